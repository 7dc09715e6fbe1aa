import UpscaleKit

// Before anything runs: make OpenBLAS use the widest kernels this processor has.
UpscaleCommand.prepareProcess()
// Arguments are decoded byte-exactly, so file names that are not valid UTF-8 still name their files.
UpscaleCommand.main(UpscaleCommand.commandLineArguments())
