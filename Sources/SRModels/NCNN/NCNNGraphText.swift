import Foundation
import SRNN
import SRTensor

/// Writes a network as an ncnn graph (`.param` text plus named weights), so families recognised from
/// PyTorch state dicts run on the same oneDNN plans as ncnn files. Blob names are generated; the input
/// is "data" and the last blob "output".
struct NCNNGraphText {
    private var lines: [String] = []
    private(set) var tensors: [String: Tensor] = [:]
    private var counter = 0
    private var readers: [String: Int] = [:]

    private mutating func fresh() -> String {
        counter += 1
        return "b\(counter)"
    }

    /// Adds a layer reading `inputs`; returns its output blob.
    @discardableResult
    mutating func layer(
        _ type: String, _ inputs: [String], _ parameters: String = "", output: String? = nil
    )
        -> String
    {
        let out = output ?? fresh()
        lines.append(
            "\(type) l\(lines.count) \(inputs.count) 1 \((inputs + [out]).joined(separator: " ")) \(parameters)")
        for input in inputs { readers[input, default: 0] += 1 }
        return out
    }

    /// A "same" convolution with bias and an optional fused LeakyReLU.
    mutating func convolution(_ x: String, _ conv: Conv2d, leakySlope: Float? = nil, output: String? = nil) -> String {
        convolution(
            x, weight: conv.weight.value, bias: conv.bias?.value ?? Tensor(zeros: [conv.outputChannels]),
            kernel: conv.kernelSize, leakySlope: leakySlope, output: output)
    }

    /// A "same" convolution: weight [O, I, K, K], bias [O], optionally with a fused LeakyReLU.
    mutating func convolution(
        _ x: String, weight: Tensor, bias: Tensor, kernel: Int, leakySlope: Float? = nil, output: String? = nil
    ) -> String {
        let name = "l\(lines.count)"
        tensors[name + ".weight"] = weight.reshaped([weight.count])
        tensors[name + ".bias"] = bias
        let activation = leakySlope.map { " 9=2 -23310=1,\($0)" } ?? ""
        return layer(
            "Convolution", [x], "0=\(weight.shape[0]) 1=\(kernel) 4=\(kernel / 2) 5=1 6=\(weight.count)" + activation,
            output: output)
    }

    /// A per-channel constant [C] (MemoryData), broadcast by the layers that read it.
    mutating func constant(_ values: Tensor) -> String {
        tensors["l\(lines.count).data"] = values
        return layer("MemoryData", [], "0=\(values.count)")
    }

    mutating func prelu(_ x: String, _ layer: PReLU) -> String {
        let name = "l\(lines.count)"
        tensors[name + ".slope"] = layer.weight.value
        return self.layer("PReLU", [x], "0=\(layer.weight.value.count)")
    }

    /// The graph, with a Split inserted for every blob read more than once (as ncnn requires).
    /// - Parameter inputChannels: the channels of blob "data" (3 but for pixel-unshuffled networks).
    func model(inputChannels: Int = 3) throws -> NCNNModel {
        var text: [String] = []
        var aliases: [String: [String]] = [:]
        var blobs = 1
        func split(_ blob: String) {
            guard let count = readers[blob], count > 1 else { return }
            let names = (0..<count).map { "\(blob)_\($0)" }
            text.append("Split s\(text.count) 1 \(count) \(blob) \(names.joined(separator: " "))")
            aliases[blob] = names
            blobs += count
        }
        split("data")
        for line in lines {
            var tokens = line.split(separator: " ").map(String.init)
            let inputCount = Int(tokens[2])!
            for index in 4..<(4 + inputCount) where aliases[tokens[index]] != nil {
                tokens[index] = aliases[tokens[index]]!.removeFirst()
            }
            text.append(tokens.joined(separator: " "))
            blobs += 1
            split(tokens[4 + inputCount])
        }
        let header = "7767517\n\(text.count + 1) \(blobs)\nInput in 0 1 data 0=0 1=0 2=\(inputChannels)\n"
        return try NCNNModel(
            paramText: header + text.joined(separator: "\n") + "\n", tensors: tensors, inputChannels: inputChannels)
    }
}
