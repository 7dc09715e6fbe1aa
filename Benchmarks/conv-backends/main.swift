// conv-backends: oneDNN's direct convolution against ours (im2col + sgemm) and raw sgemm, on every
// convolution shape the shipped ×4 generator (MSRResNet, 32 features) runs, for inference tiles and
// for training batches, measured in one run. Each line is `name: value`; ratios > 1 favour oneDNN.
// oneDNN runs in its preferred (blocked) layout, reorders excluded: what a model-level plan that
// keeps activations blocked between layers would get.
import CBLAS
import CDNNL
import Foundation
import SRTensor

func check(_ status: dnnl_status_t, _ what: String) {
    if status != dnnl_success {
        print("# oneDNN failed: \(what) (status \(status.rawValue))")
        exit(1)
    }
}

func best(repeats: Int = 5, _ body: () -> Void) -> Double {
    body()
    var best = Double.infinity
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return best
}

var engine: dnnl_engine_t?
check(dnnl_engine_create(&engine, dnnl_cpu, 0), "engine")
var stream: dnnl_stream_t?
check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "stream")

func descriptor(_ dims: [Int64], any: Bool = true) -> dnnl_memory_desc_t {
    var md = dnnl_memory_desc_t()
    let tag = any ? dnnl_format_tag_any : (dims.count == 1 ? dnnl_a : dnnl_abcd)
    check(dnnl_memory_desc_init_by_tag(&md, Int32(dims.count), dims, dnnl_f32, tag), "memory descriptor")
    return md
}

/// Memory for what a primitive wants as `query`, filled with small values.
func memory(_ pd: dnnl_primitive_desc_t?, _ query: dnnl_query_t) -> dnnl_memory_t? {
    let md = dnnl_primitive_desc_query_md(pd, query, 0)
    var memory: dnnl_memory_t?
    check(dnnl_memory_create(&memory, md, engine, UnsafeMutableRawPointer(bitPattern: -1)), "memory")
    var handle: UnsafeMutableRawPointer?
    dnnl_memory_get_data_handle(memory, &handle)
    let count = dnnl_memory_desc_get_size(md) / 4
    let floats = handle!.bindMemory(to: Float.self, capacity: count)
    for i in 0..<count { floats[i] = Float(i % 17) * 0.01 - 0.08 }
    return memory
}

func run(_ pd: dnnl_primitive_desc_t?, _ args: [(Int32, dnnl_memory_t?)]) -> Double {
    var primitive: dnnl_primitive_t?
    check(dnnl_primitive_create(&primitive, pd), "primitive")
    defer { dnnl_primitive_destroy(primitive) }
    let list = args.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1) }
    return best {
        check(dnnl_primitive_execute(primitive, stream, Int32(list.count), list), "execute")
        dnnl_stream_wait(stream)
    }
}

struct Shape {
    let name: String
    let batch: Int, input: Int, output: Int, side: Int
    var flops: Double { 2.0 * Double(batch * output * input * 9 * side * side) }
}

/// Seconds for oneDNN forward (inference, LeakyReLU 0.1 fused), backward data and backward weights.
func oneDNN(_ s: Shape, training: Bool) -> (forward: Double, data: Double, weights: Double) {
    var src = descriptor([Int64(s.batch), Int64(s.input), Int64(s.side), Int64(s.side)])
    var weights = descriptor([Int64(s.output), Int64(s.input), 3, 3])
    var bias = descriptor([Int64(s.output)], any: false)
    var dst = descriptor([Int64(s.batch), Int64(s.output), Int64(s.side), Int64(s.side)])
    let (strides, padding): ([Int64], [Int64]) = ([1, 1], [1, 1])
    var forward = dnnl_convolution_desc_t()
    check(
        dnnl_convolution_forward_desc_init(
            &forward, training ? dnnl_forward_training : dnnl_forward_inference,
            dnnl_convolution_direct, &src, &weights, &bias, &dst, strides, padding, padding),
        "forward descriptor")
    var attributes: dnnl_primitive_attr_t?
    dnnl_primitive_attr_create(&attributes)
    defer { dnnl_primitive_attr_destroy(attributes) }
    var postOps: dnnl_post_ops_t?
    dnnl_post_ops_create(&postOps)
    defer { dnnl_post_ops_destroy(postOps) }
    if !training {
        dnnl_post_ops_append_eltwise(postOps, 1, dnnl_eltwise_relu, 0.1, 0)
        dnnl_primitive_attr_set_post_ops(attributes, postOps)
    }
    var forwardPD: dnnl_primitive_desc_t?
    check(dnnl_primitive_desc_create(&forwardPD, &forward, attributes, engine, nil), "forward primitive descriptor")
    defer { dnnl_primitive_desc_destroy(forwardPD) }
    let x = memory(forwardPD, dnnl_query_src_md), w = memory(forwardPD, dnnl_query_weights_md)
    let y = memory(forwardPD, dnnl_query_dst_md)
    var biasMemory: dnnl_memory_t?
    check(dnnl_memory_create(&biasMemory, &bias, engine, UnsafeMutableRawPointer(bitPattern: -1)), "bias")
    let forwardSeconds = run(forwardPD, [(1, x), (33, w), (41, biasMemory), (17, y)])
    guard training else { return (forwardSeconds, .nan, .nan) }

    var data = dnnl_convolution_desc_t()
    check(
        dnnl_convolution_backward_data_desc_init(
            &data, dnnl_convolution_direct, &src, &weights, &dst, strides, padding, padding),
        "backward data descriptor")
    var dataPD: dnnl_primitive_desc_t?
    check(dnnl_primitive_desc_create(&dataPD, &data, nil, engine, forwardPD), "backward data primitive descriptor")
    defer { dnnl_primitive_desc_destroy(dataPD) }
    let dx = memory(dataPD, dnnl_query_diff_src_md), dy = memory(dataPD, dnnl_query_diff_dst_md)
    let wd = memory(dataPD, dnnl_query_weights_md)
    let dataSeconds = run(dataPD, [(129, dx), (33, wd), (145, dy)])

    var weightsDescriptor = dnnl_convolution_desc_t()
    check(
        dnnl_convolution_backward_weights_desc_init(
            &weightsDescriptor, dnnl_convolution_direct, &src, &weights, &bias, &dst,
            strides, padding, padding), "backward weights descriptor")
    var weightsPD: dnnl_primitive_desc_t?
    check(
        dnnl_primitive_desc_create(&weightsPD, &weightsDescriptor, nil, engine, forwardPD),
        "backward weights primitive descriptor")
    defer { dnnl_primitive_desc_destroy(weightsPD) }
    let xs = memory(weightsPD, dnnl_query_src_md), dys = memory(weightsPD, dnnl_query_diff_dst_md)
    let dw = memory(weightsPD, dnnl_query_diff_weights_md)
    var diffBias: dnnl_memory_t?
    check(dnnl_memory_create(&diffBias, &bias, engine, UnsafeMutableRawPointer(bitPattern: -1)), "diff bias")
    let weightsSeconds = run(weightsPD, [(1, xs), (145, dys), (161, dw), (169, diffBias)])
    return (forwardSeconds, dataSeconds, weightsSeconds)
}

/// Seconds for our convolution (im2col + sgemm) forward and backward (input and weight gradients).
func ours(_ s: Shape, training: Bool) -> (forward: Double, backward: Double) {
    var random = SeededGenerator(seed: 1)
    let x = Tensor.randomNormal(shape: [s.batch, s.input, s.side, s.side], standardDeviation: 1, generator: &random)
    let w = Tensor.randomNormal(shape: [s.output, s.input, 3, 3], standardDeviation: 0.1, generator: &random)
    let b = Tensor(zeros: [s.output])
    let forward = best { _ = Convolution.forward(input: x, weight: w, bias: b, stride: 1, padding: 1) }
    guard training else { return (forward, .nan) }
    let dy = Tensor.randomNormal(shape: [s.batch, s.output, s.side, s.side], standardDeviation: 1, generator: &random)
    var dw = [Float](repeating: 0, count: w.count), db = [Float](repeating: 0, count: s.output)
    let backward = best {
        dw.withUnsafeMutableBufferPointer { pw in
            db.withUnsafeMutableBufferPointer { pb in
                _ = Convolution.backward(
                    outputGradient: dy, input: x, weight: w, stride: 1, padding: 1,
                    weightGradient: pw.baseAddress, biasGradient: pb.baseAddress)
            }
        }
    }
    return (forward, backward)
}

/// Seconds for one sgemm with the convolution's multiply-adds (M = output, N = batch·side², K = input·9).
func sgemm(_ s: Shape) -> Double {
    let (m, n, k) = (s.output, s.batch * s.side * s.side, s.input * 9)
    let a = [Float](repeating: 0.01, count: m * k), b = [Float](repeating: 0.02, count: k * n)
    var c = [Float](repeating: 0, count: m * n)
    return best {
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(n), 0, &c,
            Int32(n))
    }
}

BLASKernels.selectBestCore()
let threads = ProcessInfo.processInfo.activeProcessorCount
GEMM.setThreadCount(threads)
print(
    "# \(BLASKernels.summary); oneDNN \(dnnl_version().pointee.major).\(dnnl_version().pointee.minor).\(dnnl_version().pointee.patch), \(threads) threads"
)
// The shipped ×4 generator: 128-pixel tiles with the exact overlap 15 (158² input), then 2× and 4×.
let inference = [
    Shape(name: "body_32to32_158", batch: 1, input: 32, output: 32, side: 158),
    Shape(name: "upconv_32to128_158", batch: 1, input: 32, output: 128, side: 158),
    Shape(name: "upconv_32to128_316", batch: 1, input: 32, output: 128, side: 316),
    Shape(name: "hr_32to32_632", batch: 1, input: 32, output: 32, side: 632),
    Shape(name: "last_32to3_632", batch: 1, input: 32, output: 3, side: 632),
]
// Training: batch 16 of 96-pixel crops (24² inputs).
let trainingShapes = [
    Shape(name: "train_body_32to32_24", batch: 16, input: 32, output: 32, side: 24),
    Shape(name: "train_upconv_32to128_48", batch: 16, input: 32, output: 128, side: 48),
    Shape(name: "train_hr_32to32_96", batch: 16, input: 32, output: 32, side: 96),
]
var totalOurs = 0.0, totalOneDNN = 0.0
for shape in inference {
    let reference = sgemm(shape), mine = ours(shape, training: false).forward,
        theirs = oneDNN(shape, training: false).forward
    totalOurs += mine
    totalOneDNN += theirs
    print(String(format: "%@_sgemm_gflops: %.1f", shape.name, shape.flops / reference / 1e9))
    print(String(format: "%@_ours_vs_sgemm: %.3f", shape.name, reference / mine))
    print(String(format: "%@_onednn_vs_sgemm: %.3f", shape.name, reference / theirs))
    print(String(format: "%@_onednn_vs_ours: %.2f", shape.name, mine / theirs))
}
print(String(format: "inference_convolutions_onednn_vs_ours: %.2f", totalOurs / totalOneDNN))
for shape in trainingShapes {
    let reference = sgemm(shape)
    let mine = ours(shape, training: true), theirs = oneDNN(shape, training: true)
    print(String(format: "%@_forward_onednn_vs_ours: %.2f", shape.name, mine.forward / theirs.forward))
    print(
        String(format: "%@_backward_onednn_vs_ours: %.2f", shape.name, mine.backward / (theirs.data + theirs.weights)))
    print(String(format: "%@_onednn_forward_vs_sgemm: %.3f", shape.name, reference / theirs.forward))
    print(
        String(format: "%@_onednn_backward_vs_sgemm: %.3f", shape.name, 2 * reference / (theirs.data + theirs.weights)))
}
