/// A dense float32 tensor in row-major order (NCHW for images), with value semantics
/// (copy-on-write through `Array`).
public struct Tensor: Sendable, Equatable {
    /// Dimensions, outermost first, e.g. [N, C, H, W].
    public private(set) var shape: [Int]
    /// The elements, `shape.reduce(1, *)` of them.
    public var scalars: [Float]

    /// A zero-filled tensor.
    public init(zeros shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.scalars = [Float](repeating: 0, count: shape.reduce(1, *))
    }

    /// A tensor filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.shape = shape
        self.scalars = [Float](repeating: value, count: shape.reduce(1, *))
    }

    /// A tensor over existing elements.
    public init(shape: [Int], scalars: [Float]) {
        precondition(scalars.count == shape.reduce(1, *), "\(scalars.count) elements do not fill shape \(shape)")
        self.shape = shape
        self.scalars = scalars
    }

    /// Number of elements.
    public var count: Int { scalars.count }

    /// The same elements under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, scalars: scalars)
    }

    /// Dimension `i` (negative counts from the end).
    public func dimension(_ i: Int) -> Int { shape[i < 0 ? shape.count + i : i] }

    /// Elements [start, start + count) of the outermost dimension (e.g. a slice of the batch).
    public func slice(batch start: Int, count: Int) -> Tensor {
        let inner = shape.dropFirst().reduce(1, *)
        return Tensor(
            shape: [count] + shape.dropFirst(), scalars: Array(scalars[(start * inner)..<((start + count) * inner)]))
    }
}

extension Tensor {
    /// Elementwise sum (same shapes).
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        var out = a
        out.add(b)
        return out
    }

    /// Elementwise difference (same shapes).
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        var out = a
        out.add(b, scale: -1)
        return out
    }

    /// Every element times `s`.
    public static func * (a: Tensor, s: Float) -> Tensor {
        var out = a
        out.scale(by: s)
        return out
    }

    /// self += scale · other (same element count).
    public mutating func add(_ other: Tensor, scale: Float = 1) {
        precondition(other.count == count, "add: shapes \(shape) and \(other.shape) differ")
        scalars.withUnsafeMutableBufferPointer { a in
            other.scalars.withUnsafeBufferPointer { b in
                for i in 0..<a.count { a[i] += scale * b[i] }
            }
        }
    }

    /// self *= s.
    public mutating func scale(by s: Float) {
        scalars.withUnsafeMutableBufferPointer { a in
            for i in 0..<a.count { a[i] *= s }
        }
    }

    /// Sets every element to zero, keeping the shape.
    public mutating func zero() {
        scalars.withUnsafeMutableBufferPointer { a in
            a.update(repeating: 0)
        }
    }

    /// Σ elements, accumulated in Double.
    public func sum() -> Double {
        var s = 0.0
        scalars.withUnsafeBufferPointer { a in for v in a { s += Double(v) } }
        return s
    }

    /// Σ element², accumulated in Double.
    public func squaredNorm() -> Double {
        var s = 0.0
        scalars.withUnsafeBufferPointer { a in for v in a { s += Double(v) * Double(v) } }
        return s
    }
}
