import CDNNL
import CKernels
import Foundation

/// oneDNN on the CPU: one engine and one stream for the process. oneDNN picks AVX2 or AVX-512 code
/// by cpuid at run time and threads with OpenMP over all cores.
public enum DNNL {
    /// A oneDNN call failed (no implementation for a shape, out of memory, …).
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    nonisolated(unsafe) static let engine: dnnl_engine_t? = {
        var engine: dnnl_engine_t?
        return dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success ? engine : nil
    }()

    nonisolated(unsafe) static let stream: dnnl_stream_t? = {
        var stream: dnnl_stream_t?
        return dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue) == dnnl_success ? stream : nil
    }()

    /// Threads per primitive (0: OpenMP's default, all cores). OpenMP keeps this setting per calling
    /// thread, so `execute` applies it on whichever thread runs the primitive.
    nonisolated(unsafe) private static var threadCount: Int32 = 0

    /// Sets how many threads oneDNN runs each primitive on (`--threads`).
    public static func setThreadCount(_ count: Int) { threadCount = Int32(max(1, count)) }

    /// Threads for work that runs beside oneDNN's primitives (its setting, else all cores).
    public static var workers: Int { threadCount > 0 ? Int(threadCount) : ProcessInfo.processInfo.activeProcessorCount }

    /// Whether oneDNN can run here (the engine and stream were created).
    public static var isAvailable: Bool { engine != nil && stream != nil }

    static func check(_ status: dnnl_status_t, _ what: String) throws {
        guard status == dnnl_success else {
            throw Failure(description: "oneDNN: \(what) failed (status \(status.rawValue))")
        }
    }

    /// Runs `primitive` with `(argument, memory)` pairs and waits for it.
    static func execute(_ primitive: dnnl_primitive_t?, _ arguments: [(Int32, DNNLMemory)]) {
        let list = arguments.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1.memory) }
        if threadCount > 0 { _ = sr_openmp_set_threads(threadCount) }
        let status = dnnl_primitive_execute(primitive, stream, Int32(list.count), list)
        precondition(status == dnnl_success, "oneDNN: execution failed (status \(status.rawValue))")
        dnnl_stream_wait(stream)
    }
}

/// A oneDNN buffer with its layout (plain NCHW or one of oneDNN's blocked layouts).
public final class DNNLMemory {
    public private(set) var descriptor: dnnl_memory_desc_t
    let memory: dnnl_memory_t?
    /// The number of floats the buffer holds (blocked layouts pad channels).
    public let capacity: Int

    /// Allocates a buffer of `descriptor`'s layout.
    convenience init(descriptor: dnnl_memory_desc_t) throws {
        try self.init(descriptor: descriptor, handle: UnsafeMutableRawPointer(bitPattern: -1)!)  // DNNL_MEMORY_ALLOCATE
    }

    /// A view of caller-owned storage (at least `DNNLMemory.floats(in: descriptor)` floats).
    public convenience init(descriptor: dnnl_memory_desc_t, storage: UnsafeMutablePointer<Float>) throws {
        try self.init(descriptor: descriptor, handle: UnsafeMutableRawPointer(storage))
    }

    private init(descriptor: dnnl_memory_desc_t, handle: UnsafeMutableRawPointer) throws {
        var md = descriptor
        var memory: dnnl_memory_t?
        try DNNL.check(dnnl_memory_create(&memory, &md, DNNL.engine, handle), "memory")
        self.descriptor = md
        self.memory = memory
        capacity = dnnl_memory_desc_get_size(&md) / MemoryLayout<Float>.size
    }

    /// The dimensions a descriptor describes.
    public static func dimensions(of descriptor: dnnl_memory_desc_t) -> [Int] {
        withUnsafeBytes(of: descriptor.dims) { raw in
            Array(raw.bindMemory(to: Int64.self).prefix(Int(descriptor.ndims))).map(Int.init)
        }
    }

    /// How a 4-D single-image layout groups channels: 1 for plain NCHW, B for oneDNN's nChw{B}c
    /// (`aBcd8b`, `aBcd16b`), nil for any other layout.
    public static func channelBlock(of descriptor: dnnl_memory_desc_t) -> Int? {
        guard descriptor.ndims == 4, descriptor.format_kind == dnnl_blocked else { return nil }
        let blocking = descriptor.format_desc.blocking
        let (dims, strides) = (dimensions(of: descriptor), fourStrides(of: descriptor))
        let plane = dims[2] * dims[3]
        switch blocking.inner_nblks {
        case 0:
            return strides[1] == plane && strides[2] == dims[3] && strides[3] == 1 ? 1 : nil
        case 1:
            let block = Int(blocking.inner_blks.0)
            guard blocking.inner_idxs.0 == 1, strides[1] == plane * block, strides[2] == dims[3] * block,
                strides[3] == block
            else { return nil }
            return block
        default:
            return nil
        }
    }

    /// Whether a 4-D descriptor is dense channels-last (NHWC), which oneDNN picks for some convolutions of
    /// few channels on AVX-512 hosts.
    public static func isChannelsLast(_ descriptor: dnnl_memory_desc_t) -> Bool {
        guard descriptor.ndims == 4, descriptor.format_kind == dnnl_blocked,
            descriptor.format_desc.blocking.inner_nblks == 0
        else { return false }
        let (dims, strides) = (dimensions(of: descriptor), fourStrides(of: descriptor))
        return strides[1] == 1 && strides[3] == dims[1] && strides[2] == dims[3] * dims[1]
            && strides[0] == dims[1] * dims[2] * dims[3]
    }

    /// The outer strides of a 4-D blocked descriptor, in floats.
    private static func fourStrides(of descriptor: dnnl_memory_desc_t) -> [Int] {
        withUnsafeBytes(of: descriptor.format_desc.blocking.strides) {
            Array($0.bindMemory(to: Int64.self).prefix(4)).map(Int.init)
        }
    }

    /// Floats a buffer of this layout needs.
    public static func floats(in descriptor: dnnl_memory_desc_t) -> Int {
        var md = descriptor
        return dnnl_memory_desc_get_size(&md) / MemoryLayout<Float>.size
    }

    /// A plain (row-major, NCHW for four dimensions) buffer of `dimensions`.
    public convenience init(plain dimensions: [Int]) throws {
        try self.init(descriptor: DNNLMemory.plainDescriptor(dimensions))
    }

    /// oneDNN's nChw8c layout of [1, C, H, W] (channels in blocks of 8, zero-padded).
    public static func blocked8Descriptor(_ dimensions: [Int]) throws -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        try DNNL.check(
            dnnl_memory_desc_init_by_tag(&md, 4, dimensions.map(Int64.init), dnnl_f32, dnnl_aBcd8b),
            "nChw8c descriptor")
        return md
    }

    public static func plainDescriptor(_ dimensions: [Int]) throws -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        let tags: [Int: dnnl_format_tag_t] = [1: dnnl_a, 2: dnnl_ab, 4: dnnl_abcd]
        try DNNL.check(
            dnnl_memory_desc_init_by_tag(
                &md, Int32(dimensions.count), dimensions.map(Int64.init), dnnl_f32,
                tags[dimensions.count]!), "plain descriptor")
        return md
    }

    static func anyDescriptor(_ dimensions: [Int]) throws -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        try DNNL.check(
            dnnl_memory_desc_init_by_tag(
                &md, Int32(dimensions.count), dimensions.map(Int64.init), dnnl_f32,
                dnnl_format_tag_any), "descriptor")
        return md
    }

    deinit { dnnl_memory_destroy(memory) }

    /// The buffer's floats (in its own layout).
    public var pointer: UnsafeMutablePointer<Float> {
        var handle: UnsafeMutableRawPointer?
        dnnl_memory_get_data_handle(memory, &handle)
        return handle!.bindMemory(to: Float.self, capacity: capacity)
    }

    /// Points the buffer at caller-owned storage (at least `capacity` floats).
    public func setStorage(_ storage: UnsafeMutablePointer<Float>) {
        dnnl_memory_set_data_handle(memory, storage)
    }

    /// Whether two buffers have the same layout.
    public func hasLayout(of descriptor: dnnl_memory_desc_t) -> Bool {
        var a = self.descriptor, b = descriptor
        return dnnl_memory_desc_equal(&a, &b) != 0
    }
}

/// A layout change between two buffers of the same dimensions (e.g. NCHW to oneDNN's nChw8c).
public final class DNNLReorder {
    private let primitive: dnnl_primitive_t?

    public init(from source: dnnl_memory_desc_t, to destination: dnnl_memory_desc_t) throws {
        var (a, b) = (source, destination)
        var pd: dnnl_primitive_desc_t?
        try DNNL.check(
            dnnl_reorder_primitive_desc_create(&pd, &a, DNNL.engine, &b, DNNL.engine, nil), "reorder descriptor")
        defer { dnnl_primitive_desc_destroy(pd) }
        var primitive: dnnl_primitive_t?
        try DNNL.check(dnnl_primitive_create(&primitive, pd), "reorder")
        self.primitive = primitive
    }

    deinit { dnnl_primitive_destroy(primitive) }

    public func run(from source: DNNLMemory, to destination: DNNLMemory) {
        DNNL.execute(primitive, [(1, source), (17, destination)])
    }
}

/// One forward (inference) convolution of fixed shape, stride 1, "same" zero padding:
/// [1, C, H, W] → [1, OC, H, W], weights [OC, C, K, K] prepared once in oneDNN's layout, bias and an
/// activation or a residual add fused into the output pass.
public final class DNNLConvolution {
    public enum PostOp {
        case none
        /// max(x, slope·x); slope 0 is ReLU.
        case leakyReLU(slope: Float)
        /// destination = convolution + destination (a residual connection, computed in place).
        case addToDestination
        /// Any oneDNN elementwise algorithm (`DNNLOperation.elementwise` lists them).
        case elementwise(dnnl_alg_kind_t, alpha: Float, beta: Float)
    }

    private let primitive: dnnl_primitive_t?
    private let weights: DNNLMemory
    /// The weights in the layout this primitive reads, for sharing with convolutions at other sizes.
    public var preparedWeights: DNNLMemory { weights }
    private let bias: DNNLMemory
    /// oneDNN's name for the code it runs ("jit:avx2", "brg:avx512_core", …).
    public let implementation: String
    /// The layouts the convolution reads and writes.
    public let sourceDescriptor: dnnl_memory_desc_t
    public let destinationDescriptor: dnnl_memory_desc_t

    /// - Parameters:
    ///   - source, destination: a required layout, or nil to let oneDNN choose its fastest.
    public convenience init(
        weight: Tensor, bias biasTensor: Tensor?, height: Int, width: Int, postOp: PostOp,
        source: dnnl_memory_desc_t? = nil, destination: dnnl_memory_desc_t? = nil
    ) throws {
        try self.init(
            weight: weight, bias: biasTensor, height: height, width: width, postOps: [postOp], source: source,
            destination: destination)
    }

    /// - Parameters:
    ///   - postOps: applied in order to the convolution's output.
    ///   - preparedWeights: `weight` already in oneDNN's layout (`preparedWeights` of a convolution of the same
    ///     weights at another size), used when this primitive wants that layout.
    public init(
        weight: Tensor, bias biasTensor: Tensor?, height: Int, width: Int, postOps: [PostOp],
        source: dnnl_memory_desc_t? = nil, destination: dnnl_memory_desc_t? = nil, preparedWeights: DNNLMemory? = nil
    ) throws {
        let (oc, c, k) = (weight.shape[0], weight.shape[1], weight.shape[2])
        var src = try source ?? DNNLMemory.anyDescriptor([1, c, height, width])
        var dst = try destination ?? DNNLMemory.anyDescriptor([1, oc, height, width])
        var wt = try DNNLMemory.anyDescriptor([oc, c, k, k])
        var bs = try DNNLMemory.plainDescriptor([oc])
        let pad = Int64(k / 2)
        var op = dnnl_convolution_desc_t()
        try DNNL.check(
            dnnl_convolution_forward_desc_init(
                &op, dnnl_forward_inference, dnnl_convolution_direct, &src, &wt, &bs, &dst,
                [1, 1], [pad, pad], [pad, pad]), "convolution descriptor")
        var attributes: dnnl_primitive_attr_t?
        dnnl_primitive_attr_create(&attributes)
        defer { dnnl_primitive_attr_destroy(attributes) }
        let postOpList = postOps
        var postOps: dnnl_post_ops_t?
        dnnl_post_ops_create(&postOps)
        defer { dnnl_post_ops_destroy(postOps) }
        for postOp in postOpList {
            switch postOp {
            case .none: break
            case .leakyReLU(let slope): dnnl_post_ops_append_eltwise(postOps, 1, dnnl_eltwise_relu, slope, 0)
            case .addToDestination: dnnl_post_ops_append_sum(postOps, 1)
            case .elementwise(let algorithm, let alpha, let beta):
                dnnl_post_ops_append_eltwise(postOps, 1, algorithm, alpha, beta)
            }
        }
        dnnl_primitive_attr_set_post_ops(attributes, postOps)
        var pd: dnnl_primitive_desc_t?
        try DNNL.check(
            dnnl_primitive_desc_create(&pd, &op, attributes, DNNL.engine, nil), "convolution primitive descriptor")
        defer { dnnl_primitive_desc_destroy(pd) }
        // oneDNN falls back to its reference code for shapes its fast kernels do not cover (e.g. very
        // few channels); that is many times slower than our im2col + sgemm, so refuse it.
        var information: UnsafePointer<CChar>?
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &information)
        implementation = information.map { String(cString: $0) } ?? "unknown"
        guard !implementation.hasPrefix("ref") else {
            throw DNNL.Failure(
                description: "oneDNN has only its reference code for \(c)→\(oc) channels (\(implementation))")
        }
        sourceDescriptor = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0).pointee
        destinationDescriptor = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0).pointee
        // Weights and bias go into the layouts the primitive wants, once (or are taken from another
        // convolution of the same weights that wants the same layout).
        let wanted = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0).pointee
        if let prepared = preparedWeights, prepared.hasLayout(of: wanted) {
            weights = prepared
        } else {
            weights = try DNNLMemory(descriptor: wanted)
            let plainWeights = try DNNLMemory(plain: [oc, c, k, k])
            weight.scalars.withUnsafeBufferPointer {
                plainWeights.pointer.update(from: $0.baseAddress!, count: weight.count)
            }
            try DNNLReorder(from: plainWeights.descriptor, to: weights.descriptor).run(from: plainWeights, to: weights)
        }
        let biasMemory = try DNNLMemory(plain: [oc])
        if let biasTensor {
            biasTensor.scalars.withUnsafeBufferPointer { biasMemory.pointer.update(from: $0.baseAddress!, count: oc) }
        } else {
            biasMemory.pointer.update(repeating: 0, count: oc)
        }
        bias = biasMemory
        var primitive: dnnl_primitive_t?
        try DNNL.check(dnnl_primitive_create(&primitive, pd), "convolution")
        self.primitive = primitive
    }

    deinit { dnnl_primitive_destroy(primitive) }

    /// Runs the convolution from `source` into `destination` (which also holds the residual for
    /// `.addToDestination`); both must have this convolution's layouts.
    public func run(source: DNNLMemory, destination: DNNLMemory) {
        precondition(
            source.hasLayout(of: sourceDescriptor) && destination.hasLayout(of: destinationDescriptor),
            "buffer layouts differ from the convolution's")
        DNNL.execute(primitive, [(1, source), (33, weights), (41, bias), (17, destination)])
    }
}
