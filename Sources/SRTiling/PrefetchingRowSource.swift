import Foundation
import SRImage

/// Decodes ahead on its own thread: bands of `bandHeight` rows are read from the wrapped source into a
/// queue of at most `capacity` bands, so decoding overlaps with tile compute while memory stays bounded.
/// `readRows` hands out exactly the rows asked for, in order; a decode error is rethrown there.
public final class PrefetchingRowSource: RowSource, @unchecked Sendable {
    private let queue: BoundedQueue<Result<PlanarImage, Error>>
    private var pending: PlanarImage?

    /// - Parameter height: rows the source holds (reading stops there).
    public init(source: RowSource, height: Int, bandHeight: Int = 64, capacity: Int = 2) {
        let queue = BoundedQueue<Result<PlanarImage, Error>>(capacity: capacity)
        self.queue = queue
        Thread {
            var read = 0
            while read < height {
                do {
                    let band = try source.readRows(min(bandHeight, height - read))
                    read += band.height
                    if !queue.put(.success(band)) { return }
                } catch {
                    queue.put(.failure(error))
                    break
                }
            }
            queue.finish()
        }.start()
    }

    deinit { queue.close() }

    private func nextBand() throws -> PlanarImage? { try queue.take()?.get() }

    public func readRows(_ count: Int) throws -> PlanarImage {
        var parts: [PlanarImage] = []
        var have = 0
        while have < count {
            if pending == nil { pending = try nextBand() }
            guard let band = pending else { break }
            let take = min(count - have, band.height)
            parts.append(take == band.height ? band : band.rows(0..<take))
            pending = take == band.height ? nil : band.rows(take..<band.height)
            have += take
        }
        guard var out = parts.first else { return PlanarImage(width: 0, height: 0, channels: 1) }
        for part in parts.dropFirst() { out = out.appendingRows(of: part) }
        return out
    }
}
