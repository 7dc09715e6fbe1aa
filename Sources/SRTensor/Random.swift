import Foundation

/// Deterministic random numbers (SplitMix64): every random choice in the program flows from one seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Codable, Equatable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func nextUniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Standard normal (Box-Muller).
    public mutating func nextNormal() -> Double {
        let u1 = max(nextUniform(), 1e-300), u2 = nextUniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Uniform integer in 0..<bound.
    public mutating func nextInt(below bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

extension Tensor {
    /// Normal(0, std²) elements.
    public static func randomNormal(shape: [Int], standardDeviation: Float, generator: inout SeededGenerator) -> Tensor
    {
        var t = Tensor(zeros: shape)
        for i in 0..<t.count { t.scalars[i] = Float(generator.nextNormal()) * standardDeviation }
        return t
    }

    /// Uniform elements in [low, high).
    public static func randomUniform(
        shape: [Int], low: Float = 0, high: Float = 1, generator: inout SeededGenerator
    ) -> Tensor {
        var t = Tensor(zeros: shape)
        for i in 0..<t.count { t.scalars[i] = low + (high - low) * Float(generator.nextUniform()) }
        return t
    }
}
