import UpscaleKit

UpscaleCommand.main()
