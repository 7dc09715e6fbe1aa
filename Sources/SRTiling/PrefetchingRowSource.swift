import Foundation
import SRImage

/// Decodes ahead on its own thread: bands of `bandHeight` rows are read from the wrapped source into a
/// queue of at most `capacity` bands, so decoding overlaps with tile compute while memory stays bounded.
/// `readRows` hands out exactly the rows asked for, in order; a decode error is rethrown there.
public final class PrefetchingRowSource: RowSource, @unchecked Sendable {
    private let condition = NSCondition()
    private var bands: [PlanarImage] = []
    private var failure: Error?
    private var finished = false
    private var stopped = false
    private var pending: PlanarImage?

    /// - Parameter height: rows the source holds (reading stops there).
    public init(source: RowSource, height: Int, bandHeight: Int = 64, capacity: Int = 2) {
        let thread = Thread { [self] in
            var read = 0
            while read < height {
                let band: PlanarImage
                do {
                    band = try source.readRows(min(bandHeight, height - read))
                } catch {
                    condition.lock()
                    failure = error
                    condition.broadcast()
                    condition.unlock()
                    return
                }
                read += band.height
                condition.lock()
                while bands.count >= capacity && !stopped { condition.wait() }
                if stopped {
                    condition.unlock()
                    return
                }
                bands.append(band)
                condition.broadcast()
                condition.unlock()
            }
            condition.lock()
            finished = true
            condition.broadcast()
            condition.unlock()
        }
        thread.start()
    }

    deinit {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private func nextBand() throws -> PlanarImage? {
        condition.lock()
        defer { condition.unlock() }
        while bands.isEmpty && failure == nil && !finished { condition.wait() }
        if let failure { throw failure }
        if bands.isEmpty { return nil }
        let band = bands.removeFirst()
        condition.broadcast()
        return band
    }

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
