import ArgumentParser
import Foundation
import SRDegradation
import SRFiles
import SRImage
import SRTensor

/// `upscale degrade`: writes the input the trainer (or `eval --degradation`) would make from an image.
struct Degrade: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "degrade",
        abstract: "Write the degraded low-resolution input that training or evaluation would make from an image.",
        discussion: """
            The same seed gives the same degradation. Use it to see what a model is trained on.

            Examples:
              upscale degrade photo.png photo-lr.png --scale 4 --seed 3
              upscale degrade photo.png photo-lr.png --scale 4 --degradation my-settings.json
            """)

    @Argument(help: "High-resolution image (PNG, JPEG or TIFF).") var input: String
    @Argument(help: "Output file (.png, .jpg or .tif); must not exist as the input.") var output: String
    @Option(help: "Scale factor the input is reduced by (1-16).") var scale = 4
    @Option(
        help: "bicubic, realistic (Real-ESRGAN's pipeline; the default) or a JSON file of its settings.",
        transform: { try Degradation(argument: $0) }) var degradation = Degradation.realistic(RealisticDegradation())
    @Option(help: "Random seed.") var seed: UInt64 = 0

    func validate() throws {
        guard (1...16).contains(scale) else { throw ValidationError("--scale must be between 1 and 16") }
        _ = try ImageFormat(forOutputPath: output)
    }

    func run() throws {
        try reportingFailure {
            _ = try FileSystem.requireRegularFile(input)
            if FileSystem.canonicalPath(input) == FileSystem.canonicalPath(output) {
                throw ImageError(path: output, reason: "refusing to overwrite the input")
            }
            let (image, _) = try ImageFile.read(input)
            guard image.width >= scale, image.height >= scale else {
                throw ImageError(path: input, reason: "\(image.width)x\(image.height) is smaller than the scale")
            }
            var generator = SeededGenerator(seed: seed)
            var degraded = degradation.degrade(image.rgb(), scale: scale, generator: &generator)
            if image.hasAlpha {
                // Alpha is resized cleanly: degradations model the camera and the codec, not the mask.
                let alpha = Resampler.resize(
                    image.selectingChannels(image.colorChannels..<image.channels), width: degraded.width,
                    height: degraded.height)
                degraded = degraded.appendingChannels(of: alpha)
            }
            try ImageFile.write(degraded, to: output)
            print("wrote \(output) (\(degraded.width)x\(degraded.height), \(degradation.name), seed \(seed))")
        }
    }
}
