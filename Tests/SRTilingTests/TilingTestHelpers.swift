import SRImage
import SRModels
import SRNN
import SRTensor
import SRTiling
import XCTest

/// Images, tiny generators and the tiled run shared by the tiling tests.
extension XCTestCase {
    func randomImage(width: Int, height: Int, channels: Int = 3, seed: UInt64) -> PlanarImage {
        var generator = SeededGenerator(seed: seed)
        var image = PlanarImage(width: width, height: height, channels: channels)
        // Smooth structure plus noise, so the generator sees realistic variation.
        for c in 0..<channels {
            for y in 0..<height {
                for x in 0..<width {
                    image[c, y, x] = Float(
                        0.5 + 0.3 * sin(Double(x) * 0.3 + Double(c)) * cos(Double(y) * 0.2) + 0.1
                            * generator.nextUniform())
                }
            }
        }
        return image
    }

    func tinyGenerator(
        scale: Int, seed: UInt64 = 1, architecture: GeneratorConfig.Architecture = .msrResNet
    ) -> Generator {
        let generator = Generator(
            config: GeneratorConfig(features: 6, blocks: 2, scale: scale, architecture: architecture))
        var random = SeededGenerator(seed: seed)
        generator.initialize(generator: &random)
        for (_, p) in generator.namedParameters { p.value.scale(by: 8) }  // make the residual path matter
        return generator
    }

    func tiled(_ image: PlanarImage, generator: Generator, options: TilingOptions) throws -> PlanarImage {
        try tiled(image, scale: generator.config.scale, options: options) { generator.inference($0) }
    }

    func tiled(
        _ image: PlanarImage, scale s: Int, options: TilingOptions, model: @escaping TiledUpscaler.Model
    ) throws -> PlanarImage {
        try ImagePipeline.upscale(
            image, outputWidth: image.width * s, outputHeight: image.height * s,
            method: .model(nativeScale: s, options: options, run: model))
    }

    func maxDifference(_ a: PlanarImage, _ b: PlanarImage) -> Float {
        zip(a.pixels, b.pixels).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }
}
