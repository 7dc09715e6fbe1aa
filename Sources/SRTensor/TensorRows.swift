extension Tensor {
    /// Rows `range` of a [N, C, H, W] tensor: [N, C, range.count, W].
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(
            shape.count == 4 && range.lowerBound >= 0 && range.upperBound <= shape[2], "rows \(range) of \(shape)")
        let (planes, height, width) = (shape[0] * shape[1], shape[2], shape[3])
        var out = Tensor(zeros: [shape[0], shape[1], range.count, width])
        scalars.withUnsafeBufferPointer { source in
            out.scalars.withUnsafeMutableBufferPointer { target in
                let count = range.count * width
                for plane in 0..<planes {
                    target.baseAddress!.advanced(by: plane * count).update(
                        from: source.baseAddress!.advanced(by: (plane * height + range.lowerBound) * width),
                        count: count)
                }
            }
        }
        return out
    }

    /// Copies rows `range` of `source` ([N, C, h, W], same N, C and W) into rows starting at `row`.
    public mutating func setRows(at row: Int, from source: Tensor, rows range: Range<Int>) {
        precondition(
            shape.count == 4 && source.shape.count == 4 && source.shape[0] == shape[0] && source.shape[1] == shape[1]
                && source.shape[3] == shape[3] && range.lowerBound >= 0 && range.upperBound <= source.shape[2]
                && row >= 0 && row + range.count <= shape[2],
            "rows \(range) of \(source.shape) at row \(row) of \(shape)")
        let (planes, height, sourceHeight, width) = (shape[0] * shape[1], shape[2], source.shape[2], shape[3])
        let count = range.count * width
        source.scalars.withUnsafeBufferPointer { from in
            scalars.withUnsafeMutableBufferPointer { to in
                for plane in 0..<planes {
                    let start = (plane * sourceHeight + range.lowerBound) * width
                    let target = (plane * height + row) * width
                    to.baseAddress!.advanced(by: target).update(
                        from: from.baseAddress!.advanced(by: start), count: count)
                }
            }
        }
    }
}
