import Dispatch
import Foundation
import SRImage

/// Hands bands to a consumer (usually the encoder) on its own thread, so encoding overlaps with tile
/// compute. At most `capacity` bands wait at once, which keeps memory bounded; the first error the
/// consumer throws is rethrown by the next `write` or by `finish`.
public final class BackgroundSink: @unchecked Sendable {
    private let consumer: (PlanarImage) throws -> Void
    private let queue = DispatchQueue(label: "upscale.encoder")
    private let slots: DispatchSemaphore
    private let lock = NSLock()
    private var failure: Error?

    public init(capacity: Int = 2, consumer: @escaping (PlanarImage) throws -> Void) {
        self.consumer = consumer
        slots = DispatchSemaphore(value: capacity)
    }

    private var error: Error? {
        lock.lock()
        defer { lock.unlock() }
        return failure
    }

    /// Queues a band (waits while `capacity` bands are pending).
    public func write(_ band: PlanarImage) throws {
        if let error { throw error }
        slots.wait()
        queue.async { [self] in
            defer { slots.signal() }
            guard error == nil else { return }
            do { try consumer(band) } catch {
                lock.lock()
                failure = error
                lock.unlock()
            }
        }
    }

    /// Waits until every queued band is consumed; rethrows the consumer's first error.
    public func finish() throws {
        queue.sync {}
        if let error { throw error }
    }
}
