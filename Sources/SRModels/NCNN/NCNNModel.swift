import Foundation
import SRNN
import SRTensor

/// Where an ncnn graph's weights come from, in the order its layers ask: the `.bin` file, or the
/// tensors of a safetensors file written by `upscale model convert` (named `<layer>.<role>`).
protocol NCNNWeightSource {
    /// `count` values for `role` ("weight", "bias", "slope", "data") of layer `layer`; `tagged` for the
    /// reads ncnn prefixes with a type tag.
    mutating func values(layer: String, role: String, count: Int, tagged: Bool) throws -> [Float]
}

extension NCNNWeightFile: NCNNWeightSource {
    mutating func values(layer: String, role: String, count: Int, tagged: Bool) throws -> [Float] {
        tagged ? try self.tagged(count: count) : try raw(count: count)
    }
}

/// Tensors by `<layer>.<role>`, as `NCNNModel.stateDictionary()` writes them.
struct NCNNNamedWeights: NCNNWeightSource {
    let tensors: [String: Tensor]
    func values(layer: String, role: String, count: Int, tagged: Bool) throws -> [Float] {
        guard let tensor = tensors["\(layer).\(role)"] else { throw ModelError("tensor \(layer).\(role) is missing") }
        guard tensor.count == count else {
            throw ModelError("tensor \(layer).\(role) holds \(tensor.count) values, the graph needs \(count)")
        }
        return tensor.scalars
    }
}

/// A network described by an ncnn `.param` graph with its weights: the format Upscayl, realesrgan-ncnn-vulkan
/// and the SPAN tools ship (Real-ESRGAN x4plus, animevideov3, SPAN and community models).
///
/// Input [N, 3, H, W] RGB in [0, 1] (ncnn upscalers feed pixels × 1/255) → [N, 3, H·s, W·s]. The graph is
/// checked when it is built (layer types and options, channel counts, resolutions of joined branches), so
/// running it cannot fail; its receptive radius comes from the graph, for exact tiling.
public final class NCNNModel: SuperResolutionModel {
    struct Step {
        let operation: NCNNOperation
        let inputs: [Int]
        let outputs: [Int]
        let layerName: String
    }

    /// What the graph knows about a blob before running it.
    struct BlobInfo {
        var channels: Int
        /// Resolution relative to the input (1 at input resolution); nil for constants.
        var scale: Int?
        /// Input pixels a value of this blob sees in each direction.
        var radius: Double
    }

    let steps: [Step]
    let inputBlob: Int
    let outputBlob: Int
    /// How many steps read each blob (the output blob counts one more: the caller).
    let readers: [Int]
    let paramText: String
    public let scale: Int
    /// Channels of the input blob: 3 for every file; more for our own graphs of pixel-unshuffled networks
    /// (RRDBNet ×2 takes 12), which their model feeds packed.
    let inputChannels: Int
    public let receptiveRadius: Double
    public let workingSetChannels: (input: Int, output: Int)
    public let parameterCount: Int
    let layerTypes: [String: Int]
    let blobInfos: [BlobInfo]

    /// The graph's last part when it is a chain from one blob up to a higher resolution (RRDBNet's 2× and
    /// 4× stages after the trunk). `inference` runs it on overlapping row bands of that blob, so its large
    /// maps are a band tall instead of a tile tall: x4plus's two 64-channel maps at 4× were 157 MB each
    /// for a 128-pixel tile with its context.
    public struct Tail: Sendable {
        /// The tail's first step; the steps before it (the head) make `source`.
        public let start: Int
        /// The one blob the tail reads from the head.
        public let source: Int
        /// Input rows of context each band needs on each side to equal the whole tile.
        public let halo: Int
    }
    public let tail: Tail?
    /// Input rows each band of the tail finishes.
    public static let bandRows = 32
    /// Peak live channels (area-weighted, as `peakLiveChannels`) of the whole graph, the head and the tail.
    private let peaks: (whole: Int, head: Int, tail: Int)

    /// Reads `path` (`.param`, with the `.bin` of the same name beside it; a `.bin` path finds its `.param`).
    /// - Throws: `WeightFileError` naming the file and the first problem.
    public static func load(path: String) throws -> NCNNModel {
        let stem = path.hasSuffix(".bin") || path.hasSuffix(".param") ? (path as NSString).deletingPathExtension : path
        let (paramPath, binPath) = (stem + ".param", stem + ".bin")
        guard let paramData = FileManager.default.contents(atPath: paramPath),
            let text = String(data: paramData, encoding: .utf8)
        else { throw WeightFileError(path: paramPath, reason: "cannot read this ncnn .param file") }
        guard let binData = FileManager.default.contents(atPath: binPath) else {
            throw WeightFileError(path: binPath, reason: "cannot read the weights of \(paramPath) (no such .bin file)")
        }
        do {
            var weights = NCNNWeightFile(data: binData)
            let model = try NCNNModel(paramText: text, weights: &weights)
            guard weights.remaining == 0 else {
                throw ModelError(
                    "\(weights.remaining) bytes of the .bin file are left over: it does not match the graph")
            }
            return model
        } catch {
            throw WeightFileError(path: paramPath, reason: "\(error)")
        }
    }

    /// A graph stored by `model convert`: the `.param` text in the metadata, weights as named tensors.
    /// - Parameter inputChannels: 3 for any file; our graphs of pixel-unshuffled networks take more.
    public convenience init(paramText: String, tensors: [String: Tensor], inputChannels: Int = 3) throws {
        var weights = NCNNNamedWeights(tensors: tensors)
        try self.init(paramText: paramText, weights: &weights, inputChannels: inputChannels)
    }

    init(paramText: String, weights: inout some NCNNWeightSource, inputChannels: Int = 3) throws {
        let file = try NCNNParamFile(text: paramText)
        var blobIndex: [String: Int] = [:]
        var infos: [BlobInfo?] = []
        var steps: [Step] = []
        var input: Int?
        for layer in file.layers {
            do {
                let inputs = try layer.inputs.map { name -> Int in
                    guard let index = blobIndex[name] else {
                        throw ModelError("reads blob '\(name)' before any layer writes it")
                    }
                    return index
                }
                let outputs = try layer.outputs.map { name -> Int in
                    guard blobIndex[name] == nil else { throw ModelError("writes blob '\(name)' a second time") }
                    blobIndex[name] = infos.count
                    infos.append(nil)
                    return infos.count - 1
                }
                if layer.type == "Input" {
                    guard input == nil, outputs.count == 1 else {
                        throw ModelError("a graph needs exactly one Input with one output")
                    }
                    let channels = try layer.parameters.integer(2, inputChannels)
                    guard channels == inputChannels || channels <= 0 else {
                        throw ModelError("the input must have \(inputChannels) channels, not \(channels)")
                    }
                    input = outputs[0]
                    infos[outputs[0]] = BlobInfo(channels: inputChannels, scale: 1, radius: 0)
                    continue
                }
                let inputInfos = inputs.map { infos[$0]! }
                let (operation, info) = try Self.operation(
                    for: layer, inputs: inputInfos, weights: &weights)
                guard operation.outputCount(layer.outputs.count) else {
                    throw ModelError("has \(layer.outputs.count) outputs")
                }
                for output in outputs { infos[output] = info }
                steps.append(Step(operation: operation, inputs: inputs, outputs: outputs, layerName: layer.name))
            } catch {
                throw ModelError("line \(layer.line), \(layer.type) '\(layer.name)': \(error)")
            }
        }
        guard let input else { throw ModelError("the graph has no Input layer") }
        var readers = [Int](repeating: 0, count: infos.count)
        for step in steps { for blob in step.inputs { readers[blob] += 1 } }
        let unread = (0..<infos.count).filter { readers[$0] == 0 && $0 != input }
        // ncnn upscalers extract the blob named "output"; a graph with one unread blob needs no name.
        let outputName = blobIndex["output"].map { _ in "output" }
        guard let output = outputName.flatMap({ blobIndex[$0] }) ?? (unread.count == 1 ? unread[0] : nil) else {
            throw ModelError("the graph has no blob named 'output' and \(unread.count) unread blobs")
        }
        guard let outputInfo = infos[output], outputInfo.channels == 3, let scale = outputInfo.scale,
            (1...8).contains(scale)
        else { throw ModelError("the output blob must be a 3-channel image at 1-8 times the input's resolution") }
        readers[output] += 1
        self.steps = steps
        self.paramText = paramText
        inputBlob = input
        outputBlob = output
        self.readers = readers
        self.scale = scale
        self.inputChannels = inputChannels
        receptiveRadius = outputInfo.radius
        parameterCount = steps.reduce(0) { $0 + $1.operation.parameterCount }
        layerTypes = file.layers.reduce(into: [:]) { $0[$1.type, default: 0] += 1 }
        let known = infos.map { $0! }
        blobInfos = known
        let tail = NCNNModel.tail(steps: steps, infos: known, readers: readers, input: input, output: output)
        self.tail = tail
        func peak(_ range: Range<Int>, from blob: Int) -> Int {
            NCNNModel.peakLiveChannels(steps: steps, range: range, infos: known, readers: readers, input: blob)
        }
        let whole = peak(0..<steps.count, from: input)
        if let tail {
            peaks = (whole, peak(0..<tail.start, from: input), peak(tail.start..<steps.count, from: tail.source))
        } else {
            peaks = (whole, whole, 0)
        }
        workingSetChannels = (whole, 0)
    }

    /// A part that ends the graph, reads a single blob of the rest (not the input) and works at a higher
    /// resolution than that blob; nil when there is none.
    static func tail(steps: [Step], infos: [BlobInfo], readers: [Int], input: Int, output: Int) -> Tail? {
        var produced = Set<Int>()
        var outsideReads: [Int: Int] = [:]
        var best: Tail?
        var higher = false
        // The lowest-resolution source (the head then holds no large map), then the least context (RRDBNet:
        // the trunk's sum, not conv_first's output, which the whole trunk follows).
        func rank(_ tail: Tail) -> [Int] { [infos[tail.source].scale ?? 0, tail.halo] }
        for start in stride(from: steps.count - 1, through: 0, by: -1) {
            let step = steps[start]
            for blob in step.outputs {
                produced.insert(blob)
                outsideReads[blob] = nil
            }
            for blob in step.inputs where !produced.contains(blob) { outsideReads[blob, default: 0] += 1 }
            guard outsideReads.count == 1, let (source, reads) = outsideReads.first, source != input,
                reads == readers[source], let sourceScale = infos[source].scale
            else { continue }
            higher = higher || step.outputs.contains { (infos[$0].scale ?? 0) > sourceScale }
            if !higher { continue }
            // Every path to the output goes through `source`, so the tail's reach is the difference.
            let reach = infos[output].radius - infos[source].radius
            let candidate = Tail(start: start, source: source, halo: Int(reach.rounded(.up)))
            if best.map({ rank(candidate).lexicographicallyPrecedes(rank($0)) }) ?? true { best = candidate }
        }
        return best
    }

    public var architectureName: String { "ncnn graph" }
    /// The maps alive at once are exact (`workingSetFloats`); reorder copies and buffer reuse that does not
    /// fit perfectly add about half.
    public var workingSetCopies: Double? { 1.5 }

    /// Input rows of one band of the tail, context included.
    public var bandWindow: Int { Self.bandRows + 2 * (tail?.halo ?? 0) }

    /// The peak of the maps alive at once for a `height` × `width` input: the whole graph's, or with a tail
    /// run in bands the larger of the head's and (the head's output, the tile's output and one band's maps).
    public func workingSetFloats(height: Int, width: Int) -> Double? {
        let area = Double(height * width)
        guard let tail, height > bandWindow else { return Double(peaks.whole) * area }
        let sourceScale = blobInfos[tail.source].scale ?? 1
        let held = Double(blobInfos[tail.source].channels * sourceScale * sourceScale + 3 * scale * scale) * area
        return max(Double(peaks.head) * area, held + Double(peaks.tail * bandWindow * width))
    }
    public var usesOneDNN: Bool { DNNLTrainingConvolution.isEnabled }
    public var summary: [(String, String)] {
        [
            ("architecture", architectureName), ("scale", "×\(scale)"),
            ("layers", layerTypes.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")),
            ("receptive radius", String(format: "%.2f input pixels", receptiveRadius)),
        ]
            + (tail.map {
                [
                    (
                        "row bands",
                        "last \(steps.count - $0.start) layers in bands of \(Self.bandRows) input rows "
                            + "(\($0.halo) rows of context on each side)"
                    )
                ]
            } ?? [])
    }

    private let planLock = NSLock()
    /// The plans' buffers, shared by the plans of every tile size.
    private let scratch = ScratchBuffers()
    /// Convolution weights in oneDNN's layout by step, shared by the plans of every tile size.
    var preparedWeights: [Int: DNNLMemory] = [:]
    /// Winograd-transformed weights by step, likewise shared (RRDBNet x4plus's are 119 MB: one copy per
    /// tile size had made a run's peak 1.7 GB).
    var winogradConvolutions: [Int: WinogradConvolution] = [:]
    /// Plans by part and input size; a failure is kept so it is not tried again.
    private var plans: [[Int]: Result<NCNNGraphPlan, Error>] = [:]

    /// Which steps a plan runs.
    enum Part: Int {
        case whole, head, tail
    }

    /// A oneDNN plan for this part and input size (made on first use), or why there is none.
    func plan(_ part: Part = .whole, height: Int, width: Int) -> Result<NCNNGraphPlan, Error> {
        if let existing = plans[[part.rawValue, height, width]] { return existing }
        if plans.count >= 32 { plans.removeAll() }
        let tailStart = tail?.start ?? steps.count
        let (range, input, output) =
            switch part {
            case .whole: (0..<steps.count, inputBlob, outputBlob)
            case .head: (0..<tailStart, inputBlob, tail?.source ?? outputBlob)
            case .tail: (tailStart..<steps.count, tail?.source ?? inputBlob, outputBlob)
            }
        let plan = Result {
            try NCNNGraphPlan(model: self, steps: range, input: input, output: output, height: height, width: width)
        }
        plans[[part.rawValue, height, width]] = plan
        return plan
    }

    /// How `inference` runs: "oneDNN plan", or the interpreter and why.
    public var inferencePath: String {
        guard usesOneDNN else { return "reference interpreter (im2col + sgemm)" }
        planLock.lock()
        defer { planLock.unlock() }
        switch plan(height: 16, width: 16) {
        case .success: return "oneDNN plan (fused post-ops, blocked layouts)"
        case .failure(let error): return "interpreter with oneDNN convolutions (no plan: \(error))"
        }
    }

    /// On oneDNN through a plan for the input's size when the graph has one; else the interpreter.
    public func inference(_ input: Tensor) -> Tensor {
        if usesOneDNN, input.shape[0] == 1 {
            planLock.lock()
            defer { planLock.unlock() }
            if let output = try? runPlans(input) { return output }
        }
        return interpret(input)
    }

    /// The plan for the input's size; or the head's plan, then the tail's on overlapping row bands of the
    /// head's output, each band's exact rows copied into the output.
    private func runPlans(_ input: Tensor) throws -> Tensor {
        let (height, width) = (input.shape[2], input.shape[3])
        guard let tail, height > bandWindow else {
            return try plan(height: height, width: width).get().run(input, scratch: scratch)
        }
        let source = try plan(.head, height: height, width: width).get().run(input, scratch: scratch)
        let bands = try plan(.tail, height: bandWindow, width: width).get()
        let sourceScale = blobInfos[tail.source].scale ?? 1
        var output = Tensor(zeros: [1, 3, height * scale, width * scale])
        for core in stride(from: 0, to: height, by: Self.bandRows) {
            // A window of the same height everywhere (one plan), moved inside the image at its edges.
            let top = min(max(core - tail.halo, 0), height - bandWindow)
            let band = try bands.run(
                source.rows((top * sourceScale)..<((top + bandWindow) * sourceScale)), scratch: scratch)
            let end = min(height, core + Self.bandRows)
            output.setRows(at: core * scale, from: band, rows: ((core - top) * scale)..<((end - top) * scale))
        }
        return output
    }

    /// The reference: each layer in order on plain NCHW tensors, any batch size.
    public func interpret(_ input: Tensor) -> Tensor {
        var blobs = [Tensor?](repeating: nil, count: readers.count)
        var remaining = readers
        blobs[inputBlob] = input
        for step in steps {
            var inputs: [Tensor] = []
            for blob in step.inputs {
                inputs.append(blobs[blob]!)
                remaining[blob] -= 1
                if remaining[blob] == 0 { blobs[blob] = nil }  // the step may then update it in place
            }
            let output = step.operation.run(&inputs)
            for blob in step.outputs { blobs[blob] = output }
        }
        return blobs[outputBlob]!
    }

    /// Weights by `<layer>.<role>`, for `model convert` (with the `.param` text in the metadata).
    public func stateDictionary() -> [String: Tensor] {
        var tensors: [String: Tensor] = [:]
        for step in steps {
            for (role, tensor) in step.operation.weights { tensors["\(step.layerName).\(role)"] = tensor }
        }
        return tensors
    }

    /// The metadata `model convert` stores beside the weights.
    public var metadata: [String: String] { ["arch": "ncnn", "ncnn_param": paramText, "upscale": "\(scale)"] }

    /// Which storage each blob lives in (Split outputs share their input's) and how many reads each storage
    /// awaits: a storage is free once the count reaches 0.
    static func storageGroups(steps: [Step], readers: [Int]) -> (storage: [Int], readers: [Int]) {
        var storage = Array(0..<readers.count)
        var storageReaders = readers
        for step in steps {
            guard case .split = step.operation else { continue }
            for output in step.outputs {
                storage[output] = storage[step.inputs[0]]
                storageReaders[storage[output]] += readers[output]
            }
        }
        return (storage, storageReaders)
    }

    /// The largest sum of live feature-map channels while steps `range` run from `input`, each weighted by
    /// its area relative to the graph's input (so a 3-channel map at ×4 counts 48). Split outputs share their
    /// input's storage.
    static func peakLiveChannels(
        steps: [Step], range: Range<Int>, infos: [BlobInfo], readers: [Int], input: Int
    )
        -> Int
    {
        var (storage, storageReaders) = storageGroups(steps: steps, readers: readers)
        func weight(_ blob: Int) -> Int { infos[blob].channels * (infos[blob].scale ?? 0) * (infos[blob].scale ?? 0) }
        var live = weight(input)
        var peak = live
        for step in steps[range] {
            if case .split = step.operation {
            } else if let output = step.outputs.first {
                live += weight(output)
                peak = max(peak, live)
            }
            for blob in step.inputs {
                storageReaders[storage[blob]] -= 1
                if storageReaders[storage[blob]] == 0 { live -= weight(blob) }
            }
        }
        return peak
    }
}
