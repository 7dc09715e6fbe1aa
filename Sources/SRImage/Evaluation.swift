import Foundation
import SRFiles

/// One image's score under the standard protocol.
public struct ImageScore: Codable, Sendable {
    public var name: String
    public var psnr: Double
    public var ssim: Double
    /// NIQE of the output (no reference; lower is more natural), when asked for and the image is large enough.
    public var niqe: Double?
    /// `QualityMetrics.phaseUnevenness` of the output's shaved luma at the scale's period (nil at ×1).
    public var grid: Double?
}

/// The standard ×s super-resolution evaluation protocol:
/// crop the ground truth to a multiple of s; make the input by antialiased bicubic downscaling,
/// rounded to 8 bits; upscale; round to 8 bits; compare Y (BT.601) with s pixels shaved per border.
public enum Evaluation {
    /// Scale factors the protocol accepts.
    public static let scales = 1...16

    /// The smallest ground-truth side that survives cropping to a multiple of `scale`, shaving `scale`
    /// pixels per border and SSIM's 11-pixel window.
    public static func minimumSide(scale: Int) -> Int { (2 * scale + 11 + scale - 1) / scale * scale }

    /// Throws unless a `width` × `height` ground truth survives ×`scale` evaluation.
    static func checkSize(width: Int, height: Int, scale: Int, file: String) throws {
        let minimum = minimumSide(scale: scale)
        guard scales.contains(scale), width >= minimum, height >= minimum else {
            throw ImageError(
                path: file,
                reason: "ground truth is \(width)x\(height), too small for ×\(scale) evaluation "
                    + "(each side needs at least \(minimum) pixels)")
        }
    }

    /// PNG, JPEG and TIFF files directly inside `folder`, sorted by name.
    public static func imageFiles(in folder: String) throws -> [String] {
        guard FileSystem.isDirectory(folder) else { throw ImageError(path: folder, reason: "not a folder") }
        let images = try FileSystem.listDirectory(folder).filter { name in
            !name.hasPrefix(".") && ImageFormat.isStillImageName(name)
        }.sorted()
        if images.isEmpty { throw ImageError(path: folder, reason: "no PNG, JPEG or TIFF images in the folder") }
        return images.map { folder + "/" + $0 }
    }

    /// The ground truths in `folder`, each checked before any work: a regular file, a readable header,
    /// and large enough for ×`scale`. Throws for the first file that fails.
    public static func checkedGroundTruths(in folder: String, scale: Int) throws -> [String] {
        guard scales.contains(scale) else {
            throw ImageError(path: folder, reason: "scale \(scale) is outside \(scales)")
        }
        let files = try imageFiles(in: folder)
        for file in files {
            let size = try ImageReader(path: file).description
            try checkSize(width: size.width, height: size.height, scale: scale, file: file)
        }
        return files
    }

    /// The low-resolution input the protocol derives from a ground truth (3 channels, 8-bit values),
    /// and the cropped ground truth itself.
    public static func makePair(groundTruth: PlanarImage, scale: Int) -> (input: PlanarImage, target: PlanarImage) {
        let rgb = groundTruth.rgb()
        let width = rgb.width - rgb.width % scale, height = rgb.height - rgb.height % scale
        let target = rgb.cropped(x: 0, y: 0, width: width, height: height)
        let input = Resampler.resize(target, width: width / scale, height: height / scale).quantized(bits: 8)
        return (input, target)
    }

    /// Scores an output against its target (both RGB, same size) on shaved Y.
    public static func score(
        output: PlanarImage, target: PlanarImage, shave: Int
    ) -> (psnr: Double, ssim: Double, grid: Double?) {
        precondition(output.width == target.width && output.height == target.height, "output size differs from target")
        let a = QualityMetrics.shave(
            QualityMetrics.luma(output.quantized(bits: 8)), width: output.width,
            height: output.height, border: shave)
        let b = QualityMetrics.shave(
            QualityMetrics.luma(target), width: target.width, height: target.height, border: shave)
        // The shave keeps the phases: `shave` is the scale, so column 0 of `a` is still phase 0.
        return (
            QualityMetrics.psnr(a.values, b.values),
            QualityMetrics.ssim(a.values, b.values, width: a.width, height: a.height),
            shave >= 2 ? QualityMetrics.phaseUnevenness(a.values, width: a.width, height: a.height, period: shave) : nil
        )
    }

    /// Runs the protocol on one ground-truth file.
    /// - Parameter upscale: maps the low-resolution RGB input to an RGB output `scale` times larger.
    /// - Parameter degrade: makes the input from the cropped RGB ground truth instead of the protocol's
    ///   bicubic downscaling (it must return an image `scale` times smaller).
    ///   - niqe: also scores the output (rounded to 8 bits) with NIQE.
    ///   - saveFolder: also writes the output there as NAME.png.
    public static func evaluate(
        file: String, scale: Int, degrade: ((PlanarImage) -> PlanarImage)? = nil, niqe: NIQE? = nil,
        saveFolder: String? = nil, upscale: (PlanarImage) throws -> PlanarImage
    ) throws -> ImageScore {
        let (groundTruth, _) = try ImageFile.read(file)
        try checkSize(width: groundTruth.width, height: groundTruth.height, scale: scale, file: file)
        var (input, target) = makePair(groundTruth: groundTruth, scale: scale)
        if let degrade { input = degrade(target) }
        let output = try upscale(input)
        guard output.width == target.width, output.height == target.height else {
            throw ImageError(
                path: file,
                reason: "upscaler returned \(output.width)x\(output.height), expected \(target.width)x\(target.height)")
        }
        let (psnr, ssim, grid) = score(output: output, target: target, shave: scale)
        let name = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        let rounded = output.quantized(bits: 8)
        if let saveFolder { try ImageFile.write(rounded, to: saveFolder + "/" + name + ".png") }
        return ImageScore(name: name, psnr: psnr, ssim: ssim, niqe: niqe?.score(rounded), grid: grid)
    }
}
