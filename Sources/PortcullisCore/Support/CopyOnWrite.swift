/// A value kept in one shared heap box and copied only when written while shared, the way
/// `Array` keeps its elements. A struct of many reference-counted fields (an identity, a
/// session) wrapped in it copies with one retain instead of one per field: those values are
/// copied several times on every authenticated request.
///
/// Inlinable, so that users in other modules get it specialised to their value type (an
/// unspecialised generic accessor per field read costs more than the copy it saves).
public struct CopyOnWrite<Value> {
    @usableFromInline
    final class Box {
        // Written only through `value`'s modify, once the box is known to be unique: the
        // only reference to it is then the wrapper being modified, whose own exclusivity is
        // already enforced, so checking the box's access as well would only cost time.
        @exclusivity(unchecked) @usableFromInline var value: Value
        @usableFromInline init(_ value: Value) { self.value = value }
    }

    @usableFromInline var box: Box

    @inlinable public init(_ value: Value) { box = Box(value) }

    @inlinable public var value: Value {
        // Borrowed, so reading one field of the value copies that field, not the value.
        _read { yield box.value }
        _modify {
            if !isKnownUniquelyReferenced(&box) { box = Box(box.value) }
            yield &box.value
        }
    }

    /// Whether both hold the very same box (then their values are equal without comparing).
    @inlinable public func sharesStorage(with other: CopyOnWrite) -> Bool { box === other.box }
}

// The box is only written after `isKnownUniquelyReferenced`, so a value shared between threads
// is never written in place: the wrapper is as thread-safe as its value.
extension CopyOnWrite: @unchecked Sendable where Value: Sendable {}

extension CopyOnWrite: Equatable where Value: Equatable {
    @inlinable public static func == (lhs: CopyOnWrite, rhs: CopyOnWrite) -> Bool {
        lhs.sharesStorage(with: rhs) || lhs.value == rhs.value
    }
}
