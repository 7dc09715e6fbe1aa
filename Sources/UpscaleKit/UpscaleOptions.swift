import ArgumentParser
import SRImage
import SRTiling

/// How images are upscaled.
public enum UpscaleMethodChoice: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// The neural generator through the tiled engine.
    case model
    /// MATLAB-style antialiased bicubic only.
    case bicubic
}

/// The file format of batch outputs.
public enum OutputFormatChoice: String, CaseIterable, ExpressibleByArgument, Sendable {
    case png, jpg, jpeg
    /// Still or animated GIF (every frame of an animated input; 256 colours per frame).
    case gif
    /// TIFF with Deflate compression, keeping 16 bits, 32-bit floats and alpha.
    case tif, tiff
    /// Truevision TGA (run-length encoded, 8-bit, alpha kept): game textures.
    case tga
    /// Windows bitmap (uncompressed, 8-bit, alpha kept as 32-bit).
    case bmp
    /// Binary Netpbm (PGM, PPM, or PAM with alpha; 8 or 16 bits).
    case pnm
    /// The input's own format.
    case same

    /// The extension an output gets for an input with extension `inputExtension`.
    func fileExtension(forInputExtension inputExtension: String) -> String {
        self == .same ? inputExtension.lowercased() : rawValue
    }
}

/// One slice of a sorted file list: `index` of `count`, 1-based (`--shard 3/8`).
public struct Shard: ExpressibleByArgument, Sendable, Equatable {
    public let index: Int
    public let count: Int

    public init?(argument: String) {
        let parts = argument.split(separator: "/", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 2, let index = parts[0], let count = parts[1], count >= 1, (1...count).contains(index)
        else {
            return nil
        }
        self.index = index
        self.count = count
    }

    /// The elements of `items` that belong to this shard (every `count`-th, starting at `index`).
    func select<T>(_ items: [T]) -> [T] {
        items.enumerated().filter { $0.offset % count == index - 1 }.map(\.element)
    }
}

extension AlphaMeaning: ExpressibleByArgument {}
