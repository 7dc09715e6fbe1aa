import ArgumentParser
import Foundation
import SRFiles
import SRModels
import SRTensor
import SRTiling

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Create or inspect generator weight files.",
        subcommands: [New.self, Info.self, Interpolate.self, Export.self, Convert.self])

    struct Interpolate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Blend two generators of the same architecture weight by weight (ESRGAN's network interpolation).",
            discussion: """
                OUT = alpha · A + (1 − alpha) · B for every tensor. Blending a GAN model (A) with its faithful PSNR \
                model (B) trades invented texture against fidelity without retraining; alpha = 1 is the GAN model. \
                --layer-alpha gives single layers their own alpha (`upscale model info FILE --layers` lists them), \
                e.g. the GAN's body with the faithful model's last layers.

                Examples:
                  upscale model interpolate x4-gan.safetensors x4-psnr.safetensors --alpha 0.6 x4-mix.safetensors
                  upscale model interpolate gan.safetensors tuned.safetensors --alpha 1 --layer-alpha conv_up=0 out.safetensors
                """)
        @Argument(help: "Generator A (.safetensors).") var first: String
        @Argument(help: "Generator B (.safetensors), same architecture.") var second: String
        @Option(help: "Weight of A, 0...1.") var alpha: Float = 0.5
        @Option(
            help: """
                LAYER=ALPHA: the weight of A in one layer and its sublayers (BasicSR names: conv_first, body.3, \
                body.3.conv1, conv_up, ...), instead of --alpha. Repeatable; the longest matching name wins.
                """) var layerAlpha: [String] = []
        @Option(
            help: """
                The faithful model `--detail` blends OUT toward, as a file name looked up beside OUT, then in the \
                weights folders (default: B when B is a psnr-stage model, else A's partner).
                """) var faithful: String?
        @Argument(help: "Output .safetensors file.") var output: String

        func validate() throws {
            guard (0...1).contains(alpha) else { throw ValidationError("--alpha must be between 0 and 1") }
            _ = try layerWeights()
            if let faithful, let problem = DetailControl.partnerNameProblem(faithful) {
                throw ValidationError("--faithful: \(problem)")
            }
        }

        func run() throws {
            try reportingFailure {
                let fileA = try SafeTensors.read(path: first), fileB = try SafeTensors.read(path: second)
                let a = try Generator.load(file: fileA, path: first), b = try Generator.load(file: fileB, path: second)
                let blended: Generator
                let layers = try layerWeights()
                do { blended = try a.interpolated(with: b, weight: alpha, layerWeights: layers) } catch {
                    throw CLIError("\(first) and \(second): \(error)")
                }
                let (metadataA, metadataB) = (fileA.metadata, fileB.metadata)
                let names = (
                    URL(fileURLWithPath: first).lastPathComponent, URL(fileURLWithPath: second).lastPathComponent
                )
                var description =
                    "interpolation \(Self.weight(alpha)) × \(names.0) + \(Self.weight(1 - alpha)) × \(names.1)"
                for (layer, share) in layers.sorted(by: { $0.key < $1.key }) {
                    description += "; \(layer) \(Self.weight(share)) × A + \(Self.weight(1 - share)) × B"
                }
                var metadata = ["kind": metadataA["kind"] ?? "mix", "description": description]
                // A GAN blended with a faithful model keeps that model as its `--detail` partner.
                if let faithful {
                    metadata[DetailControl.partnerKey] = faithful
                } else if metadataB["kind"] == "psnr" {
                    metadata[DetailControl.partnerKey] = URL(fileURLWithPath: second).lastPathComponent
                } else if let partner = metadataA[DetailControl.partnerKey] {
                    metadata[DetailControl.partnerKey] = partner
                }
                try blended.save(path: output, extraMetadata: metadata)
                print("wrote \(output)")
            }
        }

        /// The `--layer-alpha` options by layer name.
        /// - Throws: `ValidationError` for a malformed option, an alpha outside 0...1 or a layer given twice.
        func layerWeights() throws -> [String: Float] {
            var weights: [String: Float] = [:]
            for option in layerAlpha {
                let parts = option.split(separator: "=", omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty, let share = Float(parts[1]), (0...1).contains(share) else {
                    throw ValidationError(
                        "--layer-alpha takes LAYER=ALPHA with ALPHA between 0 and 1, not \"\(option)\"")
                }
                guard weights.updateValue(share, forKey: String(parts[0])) == nil else {
                    throw ValidationError("--layer-alpha gives layer \(parts[0]) twice")
                }
            }
            return weights
        }

        /// A blend weight as people write it (0.2, not Float's 0.19999999 for 1 − 0.8).
        static func weight(_ value: Float) -> String {
            String(format: "%g", (Double(value) * 1e6).rounded() / 1e6)
        }
    }

    struct New: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Write a randomly initialised generator (seeded), for tests, benchmarks or training from scratch.",
            discussion: """
                Examples:
                  upscale model new --features 32 --blocks 6 --scale 4 tiny-x4.safetensors
                  upscale model new --architecture compact --features 48 --blocks 8 --scale 2 compact-x2.safetensors
                """)
        @Option(help: "Generator layout. (default: msrresnet)") var architecture: GeneratorConfig.Architecture?
        @Option(help: "Feature channels (1-512).") var features = 64
        @Option(help: "Residual blocks (0-256).") var blocks = 16
        @Option(help: "Native scale: 2, 3 or 4.") var scale = 4
        @Option(help: "Activation: lrelu (BasicSR MSRResNet) or prelu (SRGAN paper).") var activation:
            GeneratorConfig.Activation = .lrelu
        @Option(help: "First and last kernel size (3, or 9 as in the SRGAN paper).") var kernel = 3
        @Option(help: "Random seed.") var seed: UInt64 = 0
        @Argument(help: "Output .safetensors file.") var output: String

        func validate() throws {
            do {
                try configuration.validate()
            } catch {
                throw ValidationError("\(error)")
            }
        }

        var configuration: GeneratorConfig {
            GeneratorConfig(
                features: features, blocks: blocks, scale: scale, activation: activation, firstKernel: kernel,
                lastKernel: kernel, architecture: architecture ?? .msrResNet)
        }

        func run() throws {
            try reportingFailure {
                let config = configuration
                let generator = Generator(config: config)
                var random = SeededGenerator(seed: seed)
                generator.initialize(generator: &random)
                try generator.save(
                    path: output,
                    extraMetadata: ["kind": "random", "description": "random initialisation, seed \(seed)"])
                print("wrote \(output): \(generator.parameterCount) parameters")
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Write a model as an ONNX graph (ONNX Runtime, TensorRT, chaiNNer) or as ncnn files (Upscayl, "
                + "realesrgan-ncnn-vulkan).",
            discussion: """
                OUT.onnx: opset 17, input "input" [1, 3, H, W] in [0, 1], output "output" [1, 3, H·s, W·s]; H and W \
                are free. OUT.param: an ncnn graph (blobs "data" and "output", RGB in [0, 1]) with its weights \
                in OUT.bin beside it, as Upscayl's custom-model folder and realesrgan-ncnn-vulkan's -m take them.

                Examples:
                  upscale model export psnr x4-psnr.onnx
                  upscale model export gan upscayl-models/x4-gan-realistic.param
                """)
        @Argument(help: "A model: .safetensors, .pth, ncnn .param, or a shipped name (gan, gan-clean, psnr).")
        var model: String
        @Argument(help: "Output .onnx or .param file (the .param's .bin is written beside it).") var output: String

        func validate() throws {
            let lowercased = output.lowercased()
            guard lowercased.hasSuffix(".onnx") || output.hasSuffix(".param") else {
                throw ValidationError("the output must end in .onnx or .param")
            }
        }

        func run() throws {
            try reportingFailure {
                let path = try ModelCatalog.resolve(model, scale: 4)
                let written = output.hasSuffix(".param") ? [output, NCNNExport.weightsPath(for: output)] : [output]
                for file in written where FileSystem.canonicalPath(path) == FileSystem.canonicalPath(file) {
                    throw CLIError("\(file): refusing to overwrite the input file")
                }
                let network = try ModelFile.load(path: path)
                if output.hasSuffix(".param") {
                    try NCNNExport.write(network, to: output)
                } else {
                    try ONNXExport.write(network, to: output)
                }
                print("wrote \(written.joined(separator: " and ")): \(network.architectureName) ×\(network.scale)")
            }
        }
    }

    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write any model upscale reads (.pth, ncnn, foreign safetensors) as our safetensors format.",
            discussion: """
                An ncnn graph keeps its .param text in the metadata and its weights as float32 tensors named \
                <layer>.weight, .bias, .slope and .data.
                Example: upscale model convert realesr-general-x4v3.pth general-x4v3.safetensors
                """)
        @Argument(help: "A model: .safetensors, .pth or ncnn .param (with its .bin beside it).") var model: String
        @Argument(help: "Output .safetensors file.") var output: String

        func validate() throws {
            guard output.lowercased().hasSuffix(".safetensors") else {
                throw ValidationError("the output must end in .safetensors")
            }
        }

        func run() throws {
            try reportingFailure {
                guard FileSystem.canonicalPath(model) != FileSystem.canonicalPath(output) else {
                    throw CLIError("\(output): refusing to overwrite the input file")
                }
                let network = try ModelFile.load(path: model)
                var metadata = ["arch": network.architectureName, "upscale": "\(network.scale)"]
                if let generator = network as? Generator { metadata = generator.config.metadata }
                if let graph = network as? NCNNModel { metadata = graph.metadata }
                try SafeTensors(tensors: network.stateDictionary(), metadata: metadata).write(path: output)
                print(
                    "wrote \(output): \(network.architectureName) ×\(network.scale), \(network.parameterCount) parameters"
                )
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Print a generator's architecture, size, receptive field and the overlap that makes tiling exact.",
            discussion: "Example: upscale model info weights/x4-psnr.safetensors --layers")
        @Argument(
            help: "A model file (.safetensors, .pth, ncnn .param) or a shipped model name (gan, gan-clean, psnr).")
        var model: String
        @Flag(
            help: """
                Also list a generator's layers by name with their parameter counts (the names `model interpolate \
                --layer-alpha` and `train --train-layers` take).
                """) var layers = false

        func run() throws {
            try reportingFailure {
                let path = try ModelCatalog.resolve(model, scale: 4)
                let generator = try ModelFile.load(path: path)
                if layers && !(generator is Generator) {
                    throw CLIError("\(path): --layers lists the layers of MSRResNet and CompactResNet generators only")
                }
                let metadata =
                    PyTorchCheckpoint.looksLikeCheckpoint(path: path) || generator is NCNNModel
                    ? [:] : try SafeTensors.read(path: path).metadata
                print("file:             \(path)")
                print(
                    "architecture:     "
                        + generator.summary.map { $0.0 == "architecture" ? $0.1 : "\($0.0) \($0.1)" }.joined(
                            separator: ", "))
                print("parameters:       \(generator.parameterCount)")
                print(String(format: "receptive radius: %.2f input pixels", generator.receptiveRadius))
                print(
                    "exact overlap:    \(generator.exactOverlap) input pixels (tiles overlapping this much reproduce "
                        + "whole-image output)"
                )
                let backend =
                    (generator as? NCNNModel)?.inferencePath ?? (generator as? SPANModel)?.inferencePath
                    ?? (generator.usesOneDNN ? "oneDNN" : "reference path (im2col + sgemm)")
                let tile = TilingOptions.defaultTileSize
                let winograd =
                    ((generator as? Generator)?.winogradCount(height: tile, width: tile)).map {
                        "; Winograd F(2×2, 3×3) for \($0.winograd) of its \($0.convolutions) convolutions (\(tile)² tiles)"
                    } ?? ""
                print("inference:        " + backend + winograd)
                for key in ["kind", "description", "steps"] {
                    if let value = metadata[key] {
                        print("\(key):".padding(toLength: 18, withPad: " ", startingAt: 0) + value)
                    }
                }
                if let partner = metadata[DetailControl.partnerKey] {
                    print("faithful partner: \(partner) (what --detail blends toward)")
                }
                if layers, let generator = generator as? Generator {
                    print("layers:")
                    for (name, count) in generator.layers {
                        print("  \(name.padding(toLength: 16, withPad: " ", startingAt: 0)) \(count)")
                    }
                }
            }
        }
    }
}

extension GeneratorConfig.Activation: ExpressibleByArgument {}
