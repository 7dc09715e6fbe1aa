import Foundation

/// A first-in first-out hand-off between one producer thread and one consumer, holding at most
/// `capacity` items: the producer waits when it is full, the consumer when it is empty. Used to decode
/// ahead of the tiles and to prepare training batches ahead of the steps.
public final class BoundedQueue<Element>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Element] = []
    private let capacity: Int
    private var finished = false
    private var closed = false

    public init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Adds an item, waiting for room; returns false (dropping it) once the consumer has closed the queue.
    @discardableResult
    public func put(_ item: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while items.count >= capacity && !closed { condition.wait() }
        if closed { return false }
        items.append(item)
        condition.broadcast()
        return true
    }

    /// The producer has nothing more: `take` returns nil once the queue is empty.
    public func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// The consumer wants nothing more: a waiting or later `put` returns false.
    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next item, waiting for one; nil when the producer has finished and everything was taken.
    public func take() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !finished { condition.wait() }
        if items.isEmpty { return nil }
        let item = items.removeFirst()
        condition.broadcast()
        return item
    }
}
