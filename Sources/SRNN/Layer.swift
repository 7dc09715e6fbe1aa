import SRTensor

/// A trainable tensor and the gradient accumulated for it.
public final class Parameter {
    public var value: Tensor
    public var gradient: Tensor
    /// When frozen, backward passes still return input gradients but add nothing here.
    public var isFrozen = false
    /// State kept with the weights but never trained (e.g. spectral norm's singular vectors): always
    /// frozen, whatever `setFrozen` says.
    public var isState = false {
        didSet { if isState { isFrozen = true } }
    }

    public init(_ value: Tensor) {
        self.value = value
        self.gradient = Tensor(zeros: value.shape)
    }

    /// Adds `delta` into the gradient unless frozen.
    @inlinable public func accumulate(_ delta: Tensor) {
        if !isFrozen { gradient.add(delta) }
    }
}

/// Maps the gradient of a forward call's output to the gradient of its input, adding the
/// parameter gradients of that call into the parameters as it goes.
public typealias Pullback = (Tensor) -> Tensor

/// A differentiable layer. Each `forward` call captures its own state in the pullback it returns,
/// so one layer may run several times (e.g. a discriminator on real and on fake) before any backward.
public protocol Layer: AnyObject {
    /// Runs the layer; returns the output and its pullback.
    func forward(_ input: Tensor) -> (output: Tensor, pullback: Pullback)
    /// Runs the layer without keeping anything for backward.
    func inference(_ input: Tensor) -> Tensor
    /// Parameters under stable dotted names (PyTorch state-dict keys, relative to this layer).
    var namedParameters: [(name: String, parameter: Parameter)] { get }
}

extension Layer {
    public func inference(_ input: Tensor) -> Tensor { forward(input).output }
    public var namedParameters: [(name: String, parameter: Parameter)] { [] }

    /// Stops (or resumes) parameter-gradient accumulation; input gradients still flow.
    public func setFrozen(_ frozen: Bool) {
        for (_, parameter) in namedParameters { parameter.isFrozen = frozen || parameter.isState }
    }

    /// Zeroes every parameter gradient.
    public func zeroGradients() {
        for (_, parameter) in namedParameters { parameter.gradient.zero() }
    }

    /// Total number of scalar parameters.
    public var parameterCount: Int { namedParameters.reduce(0) { $0 + $1.parameter.value.count } }

    /// Parameter values by name.
    public func stateDictionary() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, parameter) in namedParameters { out[name] = parameter.value }
        return out
    }

    /// Loads parameter values by name, checking every name and shape first.
    /// - Throws: `StateLoadError` listing missing, unexpected and mis-shaped tensors; nothing is
    ///   changed when it throws.
    public func loadStateDictionary(_ state: [String: Tensor]) throws {
        let parameters = namedParameters
        let expected = Set(parameters.map(\.name))
        let missing = parameters.map(\.name).filter { state[$0] == nil }
        let unexpected = state.keys.filter { !expected.contains($0) }.sorted()
        let misShaped = parameters.compactMap { name, parameter -> String? in
            guard let tensor = state[name], tensor.shape != parameter.value.shape else { return nil }
            return "\(name) is \(tensor.shape), expected \(parameter.value.shape)"
        }
        if !missing.isEmpty || !unexpected.isEmpty || !misShaped.isEmpty {
            throw StateLoadError(missing: missing, unexpected: unexpected, misShaped: misShaped)
        }
        for (name, parameter) in parameters { parameter.value = state[name]! }
    }
}

/// Weight names or shapes do not match a model.
public struct StateLoadError: Error, CustomStringConvertible {
    public let missing: [String]
    public let unexpected: [String]
    public let misShaped: [String]
    public var description: String {
        var parts: [String] = []
        if !missing.isEmpty { parts.append("missing \(missing.joined(separator: ", "))") }
        if !unexpected.isEmpty { parts.append("unexpected \(unexpected.joined(separator: ", "))") }
        if !misShaped.isEmpty { parts.append("mis-shaped \(misShaped.joined(separator: "; "))") }
        return "weights do not match the model: " + parts.joined(separator: "; ")
    }
}

/// Runs named children in order; backward unwinds their pullbacks in reverse.
public final class Sequential: Layer {
    public let children: [(name: String, layer: any Layer)]

    public init(_ children: [(String, any Layer)]) {
        self.children = children.map { (name: $0.0, layer: $0.1) }
    }

    public func forward(_ input: Tensor) -> (output: Tensor, pullback: Pullback) {
        var x = input
        var pullbacks: [Pullback] = []
        pullbacks.reserveCapacity(children.count)
        for child in children {
            let (y, pullback) = child.layer.forward(x)
            pullbacks.append(pullback)
            x = y
        }
        return (
            x,
            { gradient in
                var g = gradient
                for pullback in pullbacks.reversed() { g = pullback(g) }
                return g
            }
        )
    }

    public func inference(_ input: Tensor) -> Tensor {
        children.reduce(input) { $1.layer.inference($0) }
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        children.flatMap { child in
            child.layer.namedParameters.map {
                (name: child.name.isEmpty ? $0.name : child.name + "." + $0.name, parameter: $0.parameter)
            }
        }
    }
}
