import Foundation
import SRDegradation
import SRFiles
import SRImage
import SRTensor
import SRTiling

/// High-resolution training images and random paired crops from them.
///
/// Every PNG/JPEG under the folder (recursively) is decoded once and kept as RGB floats. Unreadable
/// files and images smaller than a crop are skipped, each with one warning.
public final class PatchDataset {
    public let images: [PlanarImage]
    public let names: [String]
    public let skipped: [String]
    public let patchSize: Int
    public let scale: Int
    /// How each crop's input is made.
    public let degradation: Degradation

    /// - Throws: `ImageError` when the folder is missing or holds no usable image.
    public init(
        folder: String, patchSize: Int, scale: Int, degradation: Degradation = .bicubic,
        warn: (String) -> Void = { _ in }
    ) throws {
        precondition(patchSize % scale == 0, "patch size must be a multiple of the scale")
        guard FileSystem.isDirectory(folder) else {
            throw ImageError(path: folder, reason: "training folder does not exist")
        }
        let files = PatchDataset.imageFiles(under: folder)
        var images: [PlanarImage] = [], names: [String] = [], skipped: [String] = []
        for file in files {
            do {
                let (image, _) = try ImageFile.read(file)
                if image.width < patchSize || image.height < patchSize {
                    skipped.append(file)
                    warn("skipping \(file): \(image.width)x\(image.height) is smaller than the \(patchSize)-pixel crop")
                    continue
                }
                images.append(image.rgb())
                names.append(file)
            } catch {
                skipped.append(file)
                warn("skipping \(error)")
            }
        }
        guard !images.isEmpty else {
            throw ImageError(
                path: folder, reason: "no usable training images (\(files.count) files found, \(skipped.count) skipped)"
            )
        }
        self.images = images
        self.names = names
        self.skipped = skipped
        self.patchSize = patchSize
        self.scale = scale
        self.degradation = degradation
    }

    /// PNG/JPEG files under `folder`, recursively, sorted by path.
    public static func imageFiles(under folder: String) -> [String] {
        let entries = (try? FileSystem.walk(folder, recursive: true)) ?? []
        return entries.filter { item in
            let lower = item.lowercased()
            return !FileSystem.fileName(of: item).hasPrefix(".")
                && (lower.hasSuffix(".png") || lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg"))
        }.map { folder + "/" + $0 }.sorted()
    }

    /// One random pair: a crop with a random flip/rotation and its degraded input (bicubic: downscaled
    /// and rounded to 8 bits as a saved image would be). Returns (lr [3, p/s, p/s], hr [3, p, p]) planes.
    public func samplePair(generator: inout SeededGenerator) -> (lr: PlanarImage, hr: PlanarImage) {
        let image = images[generator.nextInt(below: images.count)]
        let x = generator.nextInt(below: image.width - patchSize + 1)
        let y = generator.nextInt(below: image.height - patchSize + 1)
        var crop = image.cropped(x: x, y: y, width: patchSize, height: patchSize)
        let transform = generator.nextInt(below: 8)
        if transform != 0 { crop = Orientation.apply(transform + 1, to: crop) }
        let lr = degradation.degrade(crop, scale: scale, generator: &generator)
        return (lr, crop)
    }

    /// A batch of pairs as tensors: lr [N, 3, p/s, p/s], hr [N, 3, p, p].
    public func sampleBatch(size: Int, generator: inout SeededGenerator) -> (lr: Tensor, hr: Tensor) {
        var lr: [Float] = [], hr: [Float] = []
        for _ in 0..<size {
            let pair = samplePair(generator: &generator)
            lr += pair.lr.pixels
            hr += pair.hr.pixels
        }
        let small = patchSize / scale
        return (
            Tensor(shape: [size, 3, small, small], scalars: lr),
            Tensor(shape: [size, 3, patchSize, patchSize], scalars: hr)
        )
    }
}

/// Makes batches on a background thread into a bounded queue, so the cores spend their time in
/// convolutions. Batches come out in the same order, with the same content, as a serial loop would
/// make them; each carries the generator state after it, which is what a checkpoint saves.
public final class BatchQueue: @unchecked Sendable {
    public struct Item {
        public var lr: Tensor
        public var hr: Tensor
        public var generatorAfter: SeededGenerator
        public var seconds: Double
    }

    private let queue: BoundedQueue<Item>

    public init(dataset: PatchDataset, batchSize: Int, generator: SeededGenerator, capacity: Int = 3) {
        let queue = BoundedQueue<Item>(capacity: capacity)
        self.queue = queue
        Thread {
            var generator = generator
            while true {
                let start = Date()
                let (lr, hr) = dataset.sampleBatch(size: batchSize, generator: &generator)
                let item = Item(lr: lr, hr: hr, generatorAfter: generator, seconds: Date().timeIntervalSince(start))
                if !queue.put(item) { return }
            }
        }.start()
    }

    /// The next batch (waits for it).
    public func next() -> Item {
        guard let item = queue.take() else { preconditionFailure("the batch producer never finishes") }
        return item
    }

    /// Stops the producer.
    public func stop() { queue.close() }

    deinit { stop() }
}
