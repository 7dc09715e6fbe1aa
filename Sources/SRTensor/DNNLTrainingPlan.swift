import CDNNL

extension DNNLTrainingConvolution {
    /// The three passes of one convolution shape. A pass is nil when oneDNN offers only its
    /// reference code for it (the caller then uses im2col + sgemm for that pass alone).
    ///
    /// Shapes that `suitsWinograd` run oneDNN's Winograd F(4×4, 3×3) code for each pass it offers
    /// (AVX-512 CPUs: 36 multiplies per 4×4 outputs and channel pair instead of 144), the others — and
    /// any pass without Winograd code — its direct code.
    final class Plan {
        let forward: Forward?
        let backwardData: BackwardData?
        let backwardWeights: BackwardWeights?

        init(input: [Int], weight: [Int], stride: Int, padding: Int) throws {
            let geometry = try Geometry(input: input, weight: weight, stride: stride, padding: padding)
            let winograd =
                Plan.suitsWinograd(geometry)
                ? (try? Primitive(forward: geometry, algorithm: dnnl_convolution_winograd)).flatMap {
                    $0.isReference ? nil : $0
                } : nil
            // Each pass on Winograd where it has that code, else on the direct code (whose forward primitive,
            // the later passes' hint, is made only when some pass needs it).
            var directForward: Primitive?
            func pass<Pass>(_ make: (_ hint: Primitive, _ algorithm: dnnl_alg_kind_t) throws -> Pass) throws -> Pass {
                if let winograd, let made = try? make(winograd, dnnl_convolution_winograd) { return made }
                let direct = try directForward ?? Primitive(forward: geometry, algorithm: dnnl_convolution_direct)
                directForward = direct
                return try make(direct, dnnl_convolution_direct)
            }
            forward = try pass { hint, _ in hint.isReference ? nil : try Forward(primitive: hint, geometry: geometry) }
            backwardData = try? pass { try BackwardData(geometry: geometry, hint: $0, algorithm: $1) }
            backwardWeights = try? pass { try BackwardWeights(geometry: geometry, hint: $0, algorithm: $1) }
        }

        /// 3×3 stride-1 convolutions of at least 16 input and output channels, unless `UPSCALE_WINOGRAD=0`
        /// (the few-channel ones gained nothing: the GAN recipe ran 0.74 steps/s with them on Winograd too,
        /// 0.76 without; `Benchmarks/results/training-winograd-zen4.txt`).
        static func suitsWinograd(_ geometry: Geometry) -> Bool {
            let (outputs, inputs, kernel) = (geometry.weightShape[0], geometry.weightShape[1], geometry.weightShape[2])
            return WinogradConvolution.isAllowed && kernel == 3 && geometry.strides == [1, 1] && inputs >= 16
                && outputs >= 16
        }
    }

    /// Sizes, strides and paddings of a convolution, and its operands' plain layouts.
    struct Geometry {
        let inputShape: [Int]
        let weightShape: [Int]
        let outputShape: [Int]
        let strides: [Int64]
        let paddingLeft: [Int64]
        let paddingRight: [Int64]

        init(input: [Int], weight: [Int], stride: Int, padding: Int) throws {
            let (n, h, w, oc, k) = (input[0], input[2], input[3], weight[0], weight[2])
            let oh = Convolution.outputSize(h, kernel: k, stride: stride, padding: padding)
            let ow = Convolution.outputSize(w, kernel: k, stride: stride, padding: padding)
            // oneDNN wants the right/bottom padding that makes the output size come out exactly.
            let bottom = (oh - 1) * stride + k - h - padding
            let right = (ow - 1) * stride + k - w - padding
            guard oh > 0, ow > 0, bottom >= 0, right >= 0, stride >= 1 else {
                throw DNNL.Failure(description: "convolution geometry oneDNN cannot express")
            }
            inputShape = input
            weightShape = weight
            outputShape = [n, oc, oh, ow]
            strides = [Int64(stride), Int64(stride)]
            paddingLeft = [Int64(padding), Int64(padding)]
            paddingRight = [Int64(bottom), Int64(right)]
        }

        func plain(_ shape: [Int]) throws -> dnnl_memory_desc_t { try DNNLMemory.plainDescriptor(shape) }
        func any(_ shape: [Int]) throws -> dnnl_memory_desc_t { try DNNLMemory.anyDescriptor(shape) }
    }

    /// A convolution primitive with its descriptor (kept: later passes take the forward one as a hint).
    final class Primitive {
        let descriptor: dnnl_primitive_desc_t?
        let primitive: dnnl_primitive_t?
        /// oneDNN's name for the code it runs ("jit:avx2", "brgconv_bwd_w:avx512_core", "ref:any", …).
        let implementation: String

        var isReference: Bool { implementation.hasPrefix("ref") }

        init(operation: inout dnnl_convolution_desc_t, hint: Primitive?) throws {
            var descriptor: dnnl_primitive_desc_t?
            try DNNL.check(
                dnnl_primitive_desc_create(&descriptor, &operation, nil, DNNL.engine, hint?.descriptor),
                "convolution primitive descriptor")
            self.descriptor = descriptor
            var information: UnsafePointer<CChar>?
            dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &information)
            implementation = information.map { String(cString: $0) } ?? "unknown"
            var primitive: dnnl_primitive_t?
            try DNNL.check(dnnl_primitive_create(&primitive, descriptor), "convolution")
            self.primitive = primitive
        }

        convenience init(forward geometry: Geometry, algorithm: dnnl_alg_kind_t) throws {
            var (src, wt, dst) = (
                try geometry.any(geometry.inputShape), try geometry.any(geometry.weightShape),
                try geometry.any(geometry.outputShape)
            )
            var bias = try geometry.plain([geometry.weightShape[0]])
            var operation = dnnl_convolution_desc_t()
            try DNNL.check(
                dnnl_convolution_forward_desc_init(
                    &operation, dnnl_forward_training, algorithm, &src, &wt, &bias, &dst,
                    geometry.strides, geometry.paddingLeft, geometry.paddingRight), "forward descriptor")
            try self.init(operation: &operation, hint: nil)
        }

        /// The layout the primitive wants for an operand (`dnnl_query_src_md`, …).
        func layout(_ query: dnnl_query_t) -> dnnl_memory_desc_t {
            dnnl_primitive_desc_query_md(descriptor, query, 0).pointee
        }

        func execute(_ arguments: [(Int32, DNNLMemory)]) { DNNL.execute(primitive, arguments) }

        deinit {
            dnnl_primitive_destroy(primitive)
            dnnl_primitive_desc_destroy(descriptor)
        }
    }

    /// Output [N, OC, OH, OW] = input ⋆ weight + bias.
    final class Forward {
        let primitive: Primitive
        let geometry: Geometry
        let source, weights, destination: Port
        private var zeroBias: [Float]

        var implementation: String { primitive.implementation }

        init(primitive: Primitive, geometry: Geometry) throws {
            self.primitive = primitive
            self.geometry = geometry
            source = try Port(
                plain: geometry.plain(geometry.inputShape), wanted: primitive.layout(dnnl_query_src_md),
                direction: .input)
            weights = try Port(
                plain: geometry.plain(geometry.weightShape), wanted: primitive.layout(dnnl_query_weights_md),
                direction: .input)
            destination = try Port(
                plain: geometry.plain(geometry.outputShape), wanted: primitive.layout(dnnl_query_dst_md),
                direction: .output)
            zeroBias = [Float](repeating: 0, count: geometry.weightShape[0])
        }

        func run(input: Tensor, weight: Tensor, bias: Tensor?, arena: Arena) -> Tensor? {
            precondition(input.shape == geometry.inputShape && weight.shape == geometry.weightShape)
            var output = Tensor(zeros: geometry.outputShape)
            let biasValues = bias?.scalars ?? zeroBias
            do {
                try input.scalars.withUnsafeBufferPointer { x in
                    try weight.scalars.withUnsafeBufferPointer { w in
                        try biasValues.withUnsafeBufferPointer { b in
                            try output.scalars.withUnsafeMutableBufferPointer { y in
                                let src = try source.input(x.baseAddress!, arena: arena, slot: 0)
                                let wt = try weights.input(w.baseAddress!, arena: arena, slot: 2)
                                let biasMemory = try DNNLMemory(
                                    descriptor: geometry.plain([b.count]),
                                    storage: UnsafeMutablePointer(mutating: b.baseAddress!))
                                let (dst, finish) = try destination.output(y.baseAddress!, arena: arena, slot: 1)
                                primitive.execute([(1, src), (33, wt), (41, biasMemory), (17, dst)])
                                finish()
                            }
                        }
                    }
                }
            } catch { return nil }
            return output
        }
    }

    /// Input gradient [N, C, H, W] from the output gradient [N, OC, OH, OW] and the weights.
    final class BackwardData {
        let primitive: Primitive
        let geometry: Geometry
        let outputGradient, weights, inputGradient: Port

        var implementation: String { primitive.implementation }

        init(geometry: Geometry, hint: Primitive, algorithm: dnnl_alg_kind_t) throws {
            var (diffSource, wt, diffDestination) = (
                try geometry.any(geometry.inputShape), try geometry.any(geometry.weightShape),
                try geometry.any(geometry.outputShape)
            )
            var operation = dnnl_convolution_desc_t()
            try DNNL.check(
                dnnl_convolution_backward_data_desc_init(
                    &operation, algorithm, &diffSource, &wt, &diffDestination, geometry.strides,
                    geometry.paddingLeft, geometry.paddingRight), "backward-data descriptor")
            primitive = try Primitive(operation: &operation, hint: hint)
            guard !primitive.isReference else {
                throw DNNL.Failure(description: "only reference backward-data code (\(primitive.implementation))")
            }
            self.geometry = geometry
            outputGradient = try Port(
                plain: geometry.plain(geometry.outputShape), wanted: primitive.layout(dnnl_query_diff_dst_md),
                direction: .input)
            weights = try Port(
                plain: geometry.plain(geometry.weightShape), wanted: primitive.layout(dnnl_query_weights_md),
                direction: .input)
            inputGradient = try Port(
                plain: geometry.plain(geometry.inputShape), wanted: primitive.layout(dnnl_query_diff_src_md),
                direction: .output)
        }

        func run(outputGradient gradient: Tensor, weight: Tensor, inputShape: [Int], arena: Arena) -> Tensor? {
            precondition(gradient.shape == geometry.outputShape && weight.shape == geometry.weightShape)
            var result = Tensor(zeros: inputShape)
            do {
                try gradient.scalars.withUnsafeBufferPointer { g in
                    try weight.scalars.withUnsafeBufferPointer { w in
                        try result.scalars.withUnsafeMutableBufferPointer { dx in
                            let diffDestination = try outputGradient.input(g.baseAddress!, arena: arena, slot: 0)
                            let wt = try weights.input(w.baseAddress!, arena: arena, slot: 2)
                            let (diffSource, finish) = try inputGradient.output(dx.baseAddress!, arena: arena, slot: 1)
                            primitive.execute([(145, diffDestination), (33, wt), (129, diffSource)])
                            finish()
                        }
                    }
                }
            } catch { return nil }
            return result
        }
    }

    /// Weight gradient [OC, C, K, K] and bias gradient [OC] from the input and the output gradient.
    final class BackwardWeights {
        let primitive: Primitive
        let geometry: Geometry
        let input, outputGradient, weightGradient: Port
        private var weightValues: [Float]
        private var biasValues: [Float]

        var implementation: String { primitive.implementation }

        init(geometry: Geometry, hint: Primitive, algorithm: dnnl_alg_kind_t) throws {
            var (source, diffWeights, diffDestination) = (
                try geometry.any(geometry.inputShape), try geometry.any(geometry.weightShape),
                try geometry.any(geometry.outputShape)
            )
            var diffBias = try geometry.plain([geometry.weightShape[0]])
            var operation = dnnl_convolution_desc_t()
            try DNNL.check(
                dnnl_convolution_backward_weights_desc_init(
                    &operation, algorithm, &source, &diffWeights, &diffBias, &diffDestination,
                    geometry.strides, geometry.paddingLeft, geometry.paddingRight), "backward-weights descriptor")
            primitive = try Primitive(operation: &operation, hint: hint)
            guard !primitive.isReference else {
                throw DNNL.Failure(description: "only reference backward-weights code (\(primitive.implementation))")
            }
            self.geometry = geometry
            input = try Port(
                plain: geometry.plain(geometry.inputShape), wanted: primitive.layout(dnnl_query_src_md),
                direction: .input)
            outputGradient = try Port(
                plain: geometry.plain(geometry.outputShape), wanted: primitive.layout(dnnl_query_diff_dst_md),
                direction: .input)
            weightGradient = try Port(
                plain: geometry.plain(geometry.weightShape), wanted: primitive.layout(dnnl_query_diff_weights_md),
                direction: .output)
            weightValues = [Float](repeating: 0, count: geometry.weightShape.reduce(1, *))
            biasValues = [Float](repeating: 0, count: geometry.weightShape[0])
        }

        func run(
            outputGradient gradient: Tensor, input x: Tensor, weightGradient dw: UnsafeMutablePointer<Float>?,
            biasGradient db: UnsafeMutablePointer<Float>?, arena: Arena
        ) throws {
            precondition(gradient.shape == geometry.outputShape && x.shape == geometry.inputShape)
            try x.scalars.withUnsafeBufferPointer { xp in
                try gradient.scalars.withUnsafeBufferPointer { g in
                    try weightValues.withUnsafeMutableBufferPointer { w in
                        try biasValues.withUnsafeMutableBufferPointer { b in
                            let source = try input.input(xp.baseAddress!, arena: arena, slot: 0)
                            let diffDestination = try outputGradient.input(g.baseAddress!, arena: arena, slot: 1)
                            let (diffWeights, finish) = try weightGradient.output(
                                w.baseAddress!, arena: arena, slot: 2)
                            let diffBias = try DNNLMemory(
                                descriptor: geometry.plain([b.count]), storage: b.baseAddress!)
                            primitive.execute([
                                (1, source), (145, diffDestination), (161, diffWeights), (169, diffBias),
                            ])
                            finish()
                        }
                    }
                }
            }
            if let dw { for i in weightValues.indices { dw[i] += weightValues[i] } }
            if let db { for i in biasValues.indices { db[i] += biasValues[i] } }
        }
    }
}
