import SRTensor

/// Test-time self-ensemble ("TTA", `-x` in realesrgan-ncnn-vulkan and waifu2x): a tile is upscaled in all
/// eight orientations of the square (the identity, three rotations, four mirrors), each result is turned
/// back, and the eight are averaged. Eight times the work for a steadier, slightly more faithful output
/// (EDSR's "+" results). Per tile, so the engine still streams and tiled output still equals whole-image
/// output.
public enum SelfEnsemble {
    /// One orientation: transpose (swap rows and columns) first, then flip the rows, then the columns.
    public struct Transform: Sendable, Equatable {
        public let transposes: Bool
        public let flipsRows: Bool
        public let flipsColumns: Bool

        /// The eight, identity first.
        public static let all: [Transform] = [false, true].flatMap { transposes in
            [false, true].flatMap { flipsRows in
                [false, true].map { Transform(transposes: transposes, flipsRows: flipsRows, flipsColumns: $0) }
            }
        }

        public init(transposes: Bool, flipsRows: Bool, flipsColumns: Bool) {
            (self.transposes, self.flipsRows, self.flipsColumns) = (transposes, flipsRows, flipsColumns)
        }

        /// [N, C, H, W] → [N, C, H, W], or [N, C, W, H] when it transposes.
        public func apply(_ x: Tensor) -> Tensor { remap(x, inverse: false) }

        /// Undoes `apply`: [N, C, H', W'] of a transformed tensor → the original orientation.
        public func invert(_ y: Tensor) -> Tensor { remap(y, inverse: true) }

        private func remap(_ x: Tensor, inverse: Bool) -> Tensor {
            precondition(x.shape.count == 4, "expects [N, C, H, W]")
            let (planes, height, width) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
            let (outHeight, outWidth) = transposes ? (width, height) : (height, width)
            var out = Tensor(zeros: [x.shape[0], x.shape[1], outHeight, outWidth])
            // Forward: out[i, j] = x at the transposed position of the flipped (i, j). Inverse: the flips act
            // on the transformed tensor, i.e. on `x` here after the transpose is undone.
            x.scalars.withUnsafeBufferPointer { source in
                out.scalars.withUnsafeMutableBufferPointer { target in
                    for plane in 0..<planes {
                        let from = plane * height * width, to = plane * outHeight * outWidth
                        for i in 0..<outHeight {
                            for j in 0..<outWidth {
                                let (row, column): (Int, Int)
                                if inverse {
                                    let (a, b) = transposes ? (j, i) : (i, j)
                                    row = flipsRows ? height - 1 - a : a
                                    column = flipsColumns ? width - 1 - b : b
                                } else {
                                    let a = flipsRows ? outHeight - 1 - i : i
                                    let b = flipsColumns ? outWidth - 1 - j : j
                                    (row, column) = transposes ? (b, a) : (a, b)
                                }
                                target[to + i * outWidth + j] = source[from + row * width + column]
                            }
                        }
                    }
                }
            }
            return out
        }
    }

    /// `model` wrapped by `wrap` when `enabled`, else `model` itself (the `--tta` switch).
    public static func model(_ model: @escaping TiledUpscaler.Model, enabled: Bool) -> TiledUpscaler.Model {
        enabled ? wrap(model) : model
    }

    /// `model` run in all eight orientations and averaged: mean over T of T⁻¹(model(T(x))).
    public static func wrap(_ model: @escaping TiledUpscaler.Model) -> TiledUpscaler.Model {
        { input in
            var sum: Tensor?
            for transform in Transform.all {
                let output = transform.invert(model(transform.apply(input)))
                if sum == nil { sum = output } else { sum!.add(output) }
            }
            return sum! * (1 / Float(Transform.all.count))
        }
    }
}
