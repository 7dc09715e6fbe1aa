import Foundation
import SRDegradation
import SRFiles
import SRImage
import SRTensor
import SRTiling

/// High-resolution training images and random paired crops from them.
///
/// Inputs are made from each crop by a `Degradation`, or, with an input folder, read from it: the file at the
/// same relative path, ⌊width/scale⌋ × ⌊height/scale⌋ of its target (e.g. a degraded photo and a teacher
/// model's output for it, or a real low/high-resolution pair); crops then come at the same place of both.
///
/// Every PNG/JPEG under the folder (recursively) is opened once at the start to read its size; images
/// are decoded when a crop needs them and kept, as RGB floats, in a cache of bounded size (least
/// recently used out first), so a folder of 10,000 photos trains in bounded memory. Unreadable files
/// and images smaller than a crop are skipped with one warning each, whether found at the start or
/// when decoding later.
public final class PatchDataset: @unchecked Sendable {
    /// Usable files (as found at the start) and their sizes after EXIF orientation.
    public let names: [String]
    public let sizes: [(width: Int, height: Int)]
    public let skipped: [String]
    public let patchSize: Int
    public let scale: Int
    /// How each crop's input is made.
    public let degradation: Degradation
    /// The input partner of each of `names` (nil: inputs are made by `degradation`).
    public let inputNames: [String]?
    private let cache: ImageCache
    private let warn: (String) -> Void

    /// The number of usable images.
    public var count: Int { names.count }

    /// Decoded images kept by default: a quarter of the machine's memory, at most 4 GB.
    public static var defaultCacheBytes: Int { min(Int(ProcessInfo.processInfo.physicalMemory / 4), 4_000_000_000) }

    /// - Parameters:
    ///   - inputFolder: where each image's input is, at the same relative path (nil: made by `degradation`).
    ///     A missing partner, or one whose size is not the image's divided by `scale` (rounded down), skips
    ///     the image with a warning.
    ///   - cacheBytes: memory for decoded images (at least one image is always kept).
    /// - Throws: `ImageError` when a folder is missing or holds no usable image (or pair).
    public init(
        folder: String, inputFolder: String? = nil, patchSize: Int, scale: Int, degradation: Degradation = .bicubic,
        cacheBytes: Int = PatchDataset.defaultCacheBytes, warn: @escaping (String) -> Void = { _ in }
    ) throws {
        precondition(patchSize % scale == 0, "patch size must be a multiple of the scale")
        if !FileSystem.isDirectory(folder) {
            throw ImageError(path: folder, reason: "training folder does not exist")
        }
        if let inputFolder, !FileSystem.isDirectory(inputFolder) {
            throw ImageError(path: inputFolder, reason: "input folder (--inputs) does not exist")
        }
        let files = PatchDataset.imageFiles(under: folder)
        var names: [String] = [], sizes: [(Int, Int)] = [], skipped: [String] = [], inputs: [String] = []
        for file in files {
            do {
                let description = try ImageReader(path: file).description
                if description.width < patchSize || description.height < patchSize {
                    skipped.append(file)
                    warn(
                        "skipping \(file): \(description.width)x\(description.height) is smaller than the "
                            + "\(patchSize)-pixel crop")
                    continue
                }
                if let inputFolder {
                    let partner = inputFolder + file.dropFirst(folder.count)
                    guard FileSystem.exists(partner) else {
                        throw ImageError(path: file, reason: "has no input at \(partner)")
                    }
                    let small = try ImageReader(path: partner).description
                    guard small.width == description.width / scale, small.height == description.height / scale else {
                        throw ImageError(
                            path: partner,
                            reason: "is \(small.width)x\(small.height), not 1/\(scale) of \(file)'s "
                                + "\(description.width)x\(description.height)")
                    }
                    inputs.append(partner)
                }
                names.append(file)
                sizes.append((description.width, description.height))
            } catch {
                skipped.append(file)
                warn("skipping \(error)")
            }
        }
        guard !names.isEmpty else {
            throw ImageError(
                path: folder, reason: "no usable training images (\(files.count) files found, \(skipped.count) skipped)"
            )
        }
        self.names = names
        self.sizes = sizes
        self.skipped = skipped
        self.patchSize = patchSize
        self.scale = scale
        self.degradation = degradation
        self.inputNames = inputFolder == nil ? nil : inputs
        self.warn = warn
        cache = ImageCache(capacityBytes: cacheBytes)
    }

    /// The decoded RGB image `index` and its input partner (nil without an input folder), from the cache or
    /// the files; nil (with one warning) when a file can no longer be decoded or changed size since the start.
    func images(at index: Int) -> (image: PlanarImage, input: PlanarImage?)? {
        if cache.isBad(index) { return nil }
        do {
            let (width, height) = sizes[index]
            let image = try decoded(names[index], key: index, width: width, height: height)
            guard let inputNames else { return (image, nil) }
            let input = try decoded(inputNames[index], key: count + index, width: width / scale, height: height / scale)
            return (image, input)
        } catch {
            cache.markBad(index)
            warn("skipping \(error)")
            return nil
        }
    }

    /// The RGB image at `path` (cached under `key`), which must still be `width` × `height`.
    private func decoded(_ path: String, key: Int, width: Int, height: Int) throws -> PlanarImage {
        if let image = cache.image(at: key) { return image }
        let image = try ImageFile.read(path).image.rgb()
        guard image.width == width, image.height == height else {
            throw ImageError(path: path, reason: "changed size since training started")
        }
        cache.insert(image, at: key)
        return image
    }

    /// PNG, JPEG and TIFF files under `folder`, recursively, sorted by path.
    public static func imageFiles(under folder: String) -> [String] {
        let entries = (try? FileSystem.walk(folder, recursive: true)) ?? []
        return entries.filter { item in
            !FileSystem.fileName(of: item).hasPrefix(".") && ImageFormat.isStillImageName(item)
        }.map { folder + "/" + $0 }.sorted()
    }

    /// One random pair: a crop with a random flip/rotation and its input, either degraded from it (bicubic:
    /// downscaled and rounded to 8 bits as a saved image would be) or, with an input folder, the partner's
    /// crop at the same place under the same flip/rotation. Returns (lr [3, p/s, p/s], hr [3, p, p]) planes.
    /// - Throws: `ImageError` when no file of the folder can be decoded any more.
    public func samplePair(generator: inout SeededGenerator) throws -> (lr: PlanarImage, hr: PlanarImage) {
        var found: (image: PlanarImage, input: PlanarImage?)?
        while found == nil {
            guard cache.badCount < count else {
                throw ImageError(
                    path: FileSystem.parentFolder(of: names[0]), reason: "no training image can be decoded")
            }
            found = images(at: generator.nextInt(below: count))
        }
        let (image, input) = found!
        let small = patchSize / scale
        // With an input, crops start on its pixel grid, so the input's crop covers exactly the target's.
        let step = input == nil ? 1 : scale
        let x = generator.nextInt(below: (image.width - patchSize) / step + 1) * step
        let y = generator.nextInt(below: (image.height - patchSize) / step + 1) * step
        var crop = image.cropped(x: x, y: y, width: patchSize, height: patchSize)
        var inputCrop = input?.cropped(x: x / scale, y: y / scale, width: small, height: small)
        let transform = generator.nextInt(below: 8)
        if transform != 0 {
            crop = Orientation.apply(transform + 1, to: crop)
            inputCrop = inputCrop.map { Orientation.apply(transform + 1, to: $0) }
        }
        let lr = inputCrop ?? degradation.degrade(crop, scale: scale, generator: &generator)
        return (lr, crop)
    }

    /// A batch of pairs as tensors: lr [N, 3, p/s, p/s], hr [N, 3, p, p].
    public func sampleBatch(size: Int, generator: inout SeededGenerator) throws -> (lr: Tensor, hr: Tensor) {
        var lr: [Float] = [], hr: [Float] = []
        for _ in 0..<size {
            let pair = try samplePair(generator: &generator)
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
        /// The sharpened ground truth for the pixel and perceptual losses (nil: `hr` itself).
        public var target: Tensor?
        public var generatorAfter: SeededGenerator
        public var seconds: Double
    }

    private let queue: BoundedQueue<Item>
    private let failure = FailureBox()

    /// - Parameter sharpen: also make an unsharp-masked copy of each ground truth (Real-ESRGAN's targets).
    public init(
        dataset: PatchDataset, batchSize: Int, generator: SeededGenerator, sharpen: UnsharpMask? = nil,
        capacity: Int = 3
    ) {
        let queue = BoundedQueue<Item>(capacity: capacity)
        self.queue = queue
        let failure = self.failure
        Thread {
            var generator = generator
            while true {
                let start = Date()
                do {
                    let (lr, hr) = try dataset.sampleBatch(size: batchSize, generator: &generator)
                    let target = sharpen.map { BatchQueue.sharpened(hr, with: $0) }
                    let item = Item(
                        lr: lr, hr: hr, target: target, generatorAfter: generator,
                        seconds: Date().timeIntervalSince(start))
                    if !queue.put(item) { return }
                } catch {
                    failure.set(error)
                    queue.close()
                    return
                }
            }
        }.start()
    }

    /// The next batch (waits for it).
    /// - Throws: the data error that stopped the producer (e.g. no image can be decoded any more).
    public func next() throws -> Item {
        guard let item = queue.take() else {
            throw failure.error ?? ImageError(path: "<training data>", reason: "the batch producer stopped")
        }
        return item
    }

    /// Each image of a batch [N, 3, H, W] unsharp-masked.
    static func sharpened(_ batch: Tensor, with mask: UnsharpMask) -> Tensor {
        let (n, c, h, w) = (batch.shape[0], batch.shape[1], batch.shape[2], batch.shape[3])
        var out = batch
        for index in 0..<n {
            let range = (index * c * h * w)..<((index + 1) * c * h * w)
            let image = PlanarImage(width: w, height: h, channels: c, pixels: Array(batch.scalars[range]))
            out.scalars.replaceSubrange(range, with: mask.apply(image).pixels)
        }
        return out
    }

    /// Stops the producer.
    public func stop() { queue.close() }

    deinit { stop() }
}

/// One error handed from the producer thread to the consumer.
private final class FailureBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Error?
    var error: Error? {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }
    func set(_ error: Error) {
        lock.lock()
        stored = error
        lock.unlock()
    }
}

/// Decoded training images by index within a byte budget, least recently used out first; at least
/// the newest image is always kept. Thread-safe.
final class ImageCache: @unchecked Sendable {
    private let lock = NSLock()
    private let capacityBytes: Int
    private var images: [Int: PlanarImage] = [:]
    private var order: [Int] = []  // least recently used first
    private var bytes = 0
    private var bad = Set<Int>()

    init(capacityBytes: Int) { self.capacityBytes = capacityBytes }

    func image(at index: Int) -> PlanarImage? {
        lock.lock()
        defer { lock.unlock() }
        guard let image = images[index] else { return nil }
        if let position = order.firstIndex(of: index) { order.remove(at: position) }
        order.append(index)
        return image
    }

    func insert(_ image: PlanarImage, at index: Int) {
        lock.lock()
        defer { lock.unlock() }
        guard images[index] == nil else { return }
        images[index] = image
        order.append(index)
        bytes += image.pixels.count * MemoryLayout<Float>.size
        while bytes > capacityBytes && order.count > 1 {
            let oldest = order.removeFirst()
            bytes -= (images.removeValue(forKey: oldest)?.pixels.count ?? 0) * MemoryLayout<Float>.size
        }
    }

    /// Decoded bytes held now.
    var heldBytes: Int {
        lock.lock()
        defer { lock.unlock() }
        return bytes
    }

    func markBad(_ index: Int) {
        lock.lock()
        bad.insert(index)
        lock.unlock()
    }

    func isBad(_ index: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return bad.contains(index)
    }

    var badCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return bad.count
    }
}
