import SRImage

extension PlanarImage {
    /// Every plane filtered with `kernel` (correlation; the kernels here are symmetric under 180°
    /// rotation anyway), borders reflected (…, 2, 1 | 0, 1, 2, …). Same size out.
    public func filtered(with kernel: BlurKernel) -> PlanarImage {
        if kernel.size == 1 { return self }
        let half = kernel.size / 2
        func reflect(_ i: Int, _ length: Int) -> Int {
            guard length > 1 else { return 0 }
            var i = i
            while i < 0 || i >= length { i = i < 0 ? -i : 2 * (length - 1) - i }
            return i
        }
        let columns = (-half...half).map { dx in (0..<width).map { reflect($0 + dx, width) } }
        var out = self
        let plane = width * height
        pixels.withUnsafeBufferPointer { source in
            out.pixels.withUnsafeMutableBufferPointer { target in
                for c in 0..<channels {
                    let input = source.baseAddress! + c * plane
                    for y in 0..<height {
                        let row = target.baseAddress! + c * plane + y * width
                        for x in 0..<width { row[x] = 0 }
                        for ky in 0..<kernel.size {
                            let sourceRow = input + reflect(y + ky - half, height) * width
                            for kx in 0..<kernel.size {
                                let weight = kernel.weights[ky * kernel.size + kx]
                                let index = columns[kx]
                                for x in 0..<width { row[x] += weight * sourceRow[index[x]] }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
