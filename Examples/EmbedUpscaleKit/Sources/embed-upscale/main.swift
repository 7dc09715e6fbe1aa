// Upscales one image with the shipped faithful ×4 model, from Swift code.
// Usage: embed-upscale INPUT OUTPUT
import Foundation
import UpscaleKit

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    print("usage: embed-upscale INPUT OUTPUT")
    exit(2)
}
do {
    let upscaler = try Upscaler(model: "psnr", size: .scale(4), maxMemoryMB: 500)
    let seconds = try upscaler.upscale(input: arguments[1], output: arguments[2])
    print("wrote \(arguments[2]) in \(seconds) s")
} catch {
    print("error: \(error)")
    exit(1)
}
