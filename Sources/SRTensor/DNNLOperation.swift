import CDNNL
import Foundation

/// One oneDNN inference primitive other than a convolution (elementwise, binary, sum, concatenation,
/// resampling), of fixed shapes and layouts, with the constant memories it reads bound once.
/// Every operation reads its sources under `DNNL_ARG_SRC_0…` (or `DNNL_ARG_MULTIPLE_SRC + i`) and writes
/// `DNNL_ARG_DST`; operations whose destination has the first source's layout may run in place.
public final class DNNLOperation {
    private let primitive: dnnl_primitive_t?
    /// Argument number for each source, in order.
    private let sourceArguments: [Int32]
    /// Constant operands (a broadcast vector, a scalar), bound at every run.
    private let constants: [(Int32, DNNLMemory)]
    /// oneDNN's name for the code it runs.
    public let implementation: String
    /// The layout the operation writes.
    public let destinationDescriptor: dnnl_memory_desc_t

    private init(
        operation: UnsafeRawPointer?, primitiveDescriptor existing: dnnl_primitive_desc_t? = nil,
        sourceArguments: [Int32], constants: [(Int32, DNNLMemory)] = [], what: String
    ) throws {
        var pd = existing
        if existing == nil {
            try DNNL.check(dnnl_primitive_desc_create(&pd, operation, nil, DNNL.engine, nil), what + " descriptor")
        }
        defer { dnnl_primitive_desc_destroy(pd) }
        var information: UnsafePointer<CChar>?
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &information)
        implementation = information.map { String(cString: $0) } ?? "unknown"
        destinationDescriptor = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0).pointee
        var primitive: dnnl_primitive_t?
        try DNNL.check(dnnl_primitive_create(&primitive, pd), what)
        self.primitive = primitive
        self.sourceArguments = sourceArguments
        self.constants = constants
    }

    deinit { dnnl_primitive_destroy(primitive) }

    /// Runs the operation from `sources` (in the order it was made with) into `destination`.
    public func run(sources: [DNNLMemory], destination: DNNLMemory) {
        precondition(sources.count == sourceArguments.count, "wrong number of sources")
        precondition(destination.hasLayout(of: destinationDescriptor), "destination layout differs")
        DNNL.execute(primitive, Array(zip(sourceArguments, sources)) + constants + [(17, destination)])
    }

    /// y = f(x) element by element over `source`'s layout (the destination has the same layout).
    /// Algorithms as oneDNN's: `dnnl_eltwise_relu` (alpha: negative slope), `_logistic`, `_swish` (alpha 1),
    /// `_clip` (alpha, beta: bounds), `_linear` (alpha·x + beta).
    public static func elementwise(
        _ algorithm: dnnl_alg_kind_t, alpha: Float, beta: Float, source: dnnl_memory_desc_t
    ) throws -> DNNLOperation {
        var data = source
        var op = dnnl_eltwise_desc_t()
        try DNNL.check(
            dnnl_eltwise_forward_desc_init(&op, dnnl_forward_inference, algorithm, &data, alpha, beta),
            "elementwise descriptor")
        return try DNNLOperation(operation: &op, sourceArguments: [1], what: "elementwise")
    }

    /// y = a ∘ b with `b` of the same dimensions as `a` or broadcast where its dimensions are 1; the
    /// destination has `a`'s layout. With `constant`, b is that fixed plain tensor and `run` takes only a.
    /// Algorithms: `dnnl_binary_add`, `_sub`, `_mul`, `_div`, `_max`, `_min`.
    public static func binary(
        _ algorithm: dnnl_alg_kind_t, first: dnnl_memory_desc_t, second: dnnl_memory_desc_t,
        constant: Tensor? = nil
    ) throws -> DNNLOperation {
        var (a, b, y) = (first, second, first)
        var op = dnnl_binary_desc_t()
        try DNNL.check(dnnl_binary_desc_init(&op, algorithm, &a, &b, &y), "binary descriptor")
        var constants: [(Int32, DNNLMemory)] = []
        if let constant {
            let memory = try DNNLMemory(descriptor: second)
            constant.scalars.withUnsafeBufferPointer {
                memory.pointer.update(from: $0.baseAddress!, count: constant.count)
            }
            constants = [(2, memory)]
        }
        return try DNNLOperation(
            operation: &op, sourceArguments: constant == nil ? [1, 2] : [1], constants: constants, what: "binary")
    }

    /// y = Σ scales[i] · sources[i], all of one layout (the destination's).
    public static func sum(scales: [Float], sources: [dnnl_memory_desc_t]) throws -> DNNLOperation {
        var pd: dnnl_primitive_desc_t?
        var destination = sources[0]
        try DNNL.check(
            dnnl_sum_primitive_desc_create(&pd, &destination, Int32(sources.count), scales, sources, nil, DNNL.engine),
            "sum descriptor")
        return try DNNLOperation(
            operation: nil, primitiveDescriptor: pd, sourceArguments: (0..<sources.count).map { 1024 + Int32($0) },
            what: "sum")
    }

    /// Concatenation over channels (dimension 1); oneDNN chooses the destination layout.
    public static func concatenation(sources: [dnnl_memory_desc_t]) throws -> DNNLOperation {
        var pd: dnnl_primitive_desc_t?
        try DNNL.check(
            dnnl_concat_primitive_desc_create(&pd, nil, Int32(sources.count), 1, sources, nil, DNNL.engine),
            "concatenation descriptor")
        return try DNNLOperation(
            operation: nil, primitiveDescriptor: pd, sourceArguments: (0..<sources.count).map { 1024 + Int32($0) },
            what: "concatenation")
    }
}
