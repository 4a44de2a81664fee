import NIOCore
import NIOHTTP1
import PortcullisCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Parses the HTTP/1.1 responses on an upstream connection straight from the socket's bytes.
///
/// NIO's response decoder turns every field into two `String`s, collects them in an
/// `HTTPHeaders` and boxes each part in an `NIOAny` that the next handler casts back: about a
/// sixth of the gateway's work per request. The gateway only needs a few facts about a
/// response (status, how its body is delimited, whether the connection stays usable, which
/// fields to pass on), so it reads the head in place: fields are byte ranges in the received
/// buffer and are copied to the client as they are.
///
/// Strict where leniency could let the gateway and the upstream disagree about where a
/// response ends: a malformed status line, field line or chunk size, a Content-Length that is
/// not a number or disagrees with another, Content-Length with Transfer-Encoding, and bytes
/// nobody asked for are errors, after which the connection is closed and never reused.
/// A value-type state machine with no channel, tested byte by byte without sockets.
struct UpstreamResponseParser {
    enum Event {
        case head(UpstreamResponseHead)
        case body(ByteBuffer)
        /// The response is complete; trailers only from a chunked body that had some.
        case end(trailers: HTTPHeaders?)
        /// A 101: the connection now speaks another protocol, starting with `leftover`.
        case switched(UpstreamResponseHead, leftover: ByteBuffer?)
    }

    struct Failure: Error, Equatable, CustomStringConvertible {
        var reason: String
        var description: String { "malformed upstream response: \(reason)" }
    }

    /// The most a head (or a trailer section) may take, as NIO's decoder allows.
    static let maxHeadBytes = 80 * 1024

    private enum State {
        /// No response is due: any byte is unsolicited.
        case idle
        case head
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        /// After a 101: the rest belongs to the new protocol.
        case upgraded
        case failed
    }

    private var state = State.idle
    /// Which fields are hop-by-hop (classified while parsing, used when passing them on).
    private let hopByHop: HeaderRules

    init(hopByHop: HeaderRules) {
        self.hopByHop = hopByHop
    }
    /// Requests written and not yet answered: whether each was a HEAD (or CONNECT), whose
    /// answers have no body whatever their fields say.
    private var expected = CircularBuffer<Bool>(initialCapacity: 2)
    /// An incomplete head, chunk-size line or trailer section, kept until its end arrives,
    /// with how far it was searched and where its last unfinished line starts.
    private var partial: ByteBuffer?
    private var partialScanned = 0
    private var partialLineStart = 0

    /// Records a request written on the connection, so its response is expected.
    mutating func expectResponse(bodyless: Bool) {
        expected.append(bodyless)
        if case .idle = state { state = .head }
    }

    /// Handles `buffer`, calling `emit` for each event, in order.
    mutating func feed(_ buffer: ByteBuffer, _ emit: (Event) -> Void) throws(Failure) {
        var buffer = buffer
        while buffer.readableBytes > 0 {
            switch state {
            case .idle:
                throw fail("bytes with no request outstanding")
            case .failed:
                return
            case .upgraded:
                // Whoever took over after the 101 reads the connection from here.
                return
            case .head:
                guard let head = try take(from: &buffer, limit: Self.maxHeadBytes, block: true, what: "response head") else { return }
                try handleHead(head, rest: &buffer, emit)
            case .fixedBody(let remaining):
                let slice = buffer.readSlice(length: min(remaining, buffer.readableBytes))!
                if remaining == slice.readableBytes {
                    emit(.body(slice))
                    finishMessage(trailers: nil, emit)
                } else {
                    state = .fixedBody(remaining: remaining - slice.readableBytes)
                    emit(.body(slice))
                }
            case .untilClose:
                emit(.body(buffer))
                return
            case .chunkSize:
                guard let line = try take(from: &buffer, limit: 1024, block: false, what: "chunk size") else { return }
                let size = try chunkSize(line)
                state = size == 0 ? .trailers : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let slice = buffer.readSlice(length: min(remaining, buffer.readableBytes))!
                state = remaining == slice.readableBytes ? .chunkDataEnd : .chunkData(remaining: remaining - slice.readableBytes)
                emit(.body(slice))
            case .chunkDataEnd:
                guard let line = try take(from: &buffer, limit: 1, block: false, what: "chunk end") else { return }
                guard line.readableBytes == 0 else { throw fail("data after a chunk") }
                state = .chunkSize
            case .trailers:
                guard let section = try take(from: &buffer, limit: Self.maxHeadBytes, block: true, what: "trailers") else { return }
                guard let trailers = Self.trailers(section) else { throw fail("invalid trailer field") }
                finishMessage(trailers: trailers, emit)
            }
        }
    }

    /// The connection closed: ends a response delimited by the close; anything else
    /// unfinished is an error.
    mutating func feedEOF(_ emit: (Event) -> Void) throws(Failure) {
        switch state {
        case .untilClose:
            finishMessage(trailers: nil, emit)
        case .idle, .upgraded, .failed:
            break
        case .head where partial == nil && expected.isEmpty:
            break
        default:
            throw fail("closed before the response was complete")
        }
    }

    // MARK: Head

    private mutating func handleHead(_ block: ByteBuffer, rest: inout ByteBuffer, _ emit: (Event) -> Void) throws(Failure) {
        guard var head = UpstreamResponseHead(parsing: block, hopByHop: hopByHop) else { throw fail("invalid response head") }
        let code = head.status.code
        if code >= 100 && code < 200 && code != 101 {
            // Informational answers are not relayed (NIO's decoder drops them too); the real
            // answer follows.
            return
        }
        let bodyless = expected.popFirst() ?? false
        if code == 101 {
            head.keepAlive = false
            state = .upgraded
            let leftover = rest.readableBytes > 0 ? rest.readSlice(length: rest.readableBytes) : nil
            emit(.switched(head, leftover: leftover))
            return
        }
        let framing = bodyless || code == 204 || code == 304 ? .none : head.bodyFraming
        if case .untilClose = framing { head.keepAlive = false }
        switch framing {
        case .none, .length(0):
            emit(.head(head))
            finishMessage(trailers: nil, emit)
        case .length(let length):
            state = .fixedBody(remaining: length)
            emit(.head(head))
        case .chunked:
            state = .chunkSize
            emit(.head(head))
        case .untilClose:
            state = .untilClose
            emit(.head(head))
        }
    }

    private mutating func finishMessage(trailers: HTTPHeaders?, _ emit: (Event) -> Void) {
        // Set first: the receiver may start the next request on this connection at once.
        state = expected.isEmpty ? .idle : .head
        emit(.end(trailers: trailers))
    }

    private mutating func fail(_ reason: String) -> Failure {
        state = .failed
        partial = nil
        return Failure(reason: reason)
    }

    // MARK: Lines

    /// Takes one line (`block` false, without its line end) or everything up to an empty line
    /// (`block` true, ending before the empty line) from `buffer`; or keeps what has arrived
    /// for the next call and returns nil. A block that arrives whole (the usual case) is a
    /// slice of the received buffer, not a copy.
    private mutating func take(from buffer: inout ByteBuffer, limit: Int, block: Bool, what: String) throws(Failure) -> ByteBuffer? {
        let carried = partial?.readableBytes ?? 0
        var source = buffer
        if var kept = partial {
            partial = nil
            kept.writeImmutableBuffer(buffer)
            source = kept
        }
        let scanFrom = carried == 0 ? 0 : partialScanned
        let lineStart = carried == 0 ? 0 : partialLineStart
        let found = source.withUnsafeReadableBytes { Self.findEnd($0, from: scanFrom, lineStart: lineStart, block: block) }
        switch found {
        case .found(let contentEnd, let blockEnd):
            guard contentEnd <= limit else { throw fail("\(what) too large") }
            buffer.moveReaderIndex(forwardBy: blockEnd - carried)
            return source.getSlice(at: source.readerIndex, length: contentEnd)!
        case .incomplete(let lineStart):
            guard source.readableBytes <= limit + 2 else { throw fail("\(what) too large") }
            partial = source
            partialScanned = source.readableBytes
            partialLineStart = lineStart
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return nil
        }
    }

    private enum LineSearch {
        case found(contentEnd: Int, blockEnd: Int)
        case incomplete(lineStart: Int)
    }

    /// Finds the end of a line or block in `bytes`, searching from `from` with the current
    /// line starting at `lineStart`. A line ends in CRLF or a bare LF (RFC 9112 §2.2 lets a
    /// recipient accept either).
    private static func findEnd(_ bytes: UnsafeRawBufferPointer, from: Int, lineStart: Int, block: Bool) -> LineSearch {
        guard let base = bytes.baseAddress else { return .incomplete(lineStart: lineStart) }
        var lineStart = lineStart
        var index = from
        while index < bytes.count, let hit = memchr(base + index, 0x0A, bytes.count - index) {
            let lf = base.distance(to: UnsafeRawPointer(hit))
            let lineEnd = lf > lineStart && bytes[lf - 1] == 0x0D ? lf - 1 : lf
            if !block { return .found(contentEnd: lineEnd, blockEnd: lf + 1) }
            if lineEnd == lineStart { return .found(contentEnd: lineStart, blockEnd: lf + 1) }
            lineStart = lf + 1
            index = lf + 1
        }
        return .incomplete(lineStart: lineStart)
    }

    // MARK: Chunks and trailers

    /// A chunk-size line: hexadecimal digits, then optional extensions (ignored).
    private mutating func chunkSize(_ line: ByteBuffer) throws(Failure) -> Int {
        let size: Int? = line.withUnsafeReadableBytes { bytes in
            var size = 0
            var digits = 0
            for byte in bytes {
                let value: Int
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): value = Int(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): value = Int(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): value = Int(byte - UInt8(ascii: "A") + 10)
                case UInt8(ascii: ";"), UInt8(ascii: " "), UInt8(ascii: "\t"):
                    return digits > 0 ? size : nil
                default:
                    return nil
                }
                digits += 1
                // 15 hexadecimal digits keep the size well inside Int.
                guard digits <= 15 else { return nil }
                size = size << 4 | value
            }
            return digits > 0 ? size : nil
        }
        guard let size else { throw fail("invalid chunk size") }
        return size
    }

    /// The trailer fields (nil when a line is malformed); an empty section gives empty headers.
    static func trailers(_ section: ByteBuffer) -> HTTPHeaders? {
        guard let (fields, _) = UpstreamResponseHead.fields(in: section, from: 0, hopByHop: nil) else { return nil }
        var headers = HTTPHeaders()
        for field in fields { headers.add(name: field.name(in: section), value: field.value(in: section)) }
        return headers
    }
}

/// A response head as received: status, version, and its fields as byte ranges in `bytes`.
struct UpstreamResponseHead {
    struct Field {
        /// Offsets from `bytes.readerIndex`.
        var nameStart: Int
        var nameCount: Int
        var valueStart: Int
        var valueCount: Int
        /// Where the next line starts.
        var lineEnd: Int
        var kind = Kind.regular

        func name(in bytes: ByteBuffer) -> String { bytes.getString(at: bytes.readerIndex + nameStart, length: nameCount)! }
        func value(in bytes: ByteBuffer) -> String { bytes.getString(at: bytes.readerIndex + valueStart, length: valueCount)! }
    }

    /// What a field is to the gateway, decided once while parsing.
    enum Kind: UInt8 {
        case regular
        /// Hop-by-hop (RFC 9110 §7.6.1): never passed on, except the two below for an upgrade.
        case hopByHop
        case connection
        case upgrade
        case transferEncoding
        case contentLength
        /// `Strict-Transport-Security`: replaced by the gateway's own when `listen.hsts` is set.
        case strictTransportSecurity
    }

    enum Framing: Equatable {
        case none
        case length(Int)
        case chunked
        case untilClose
    }

    var version: HTTPVersion
    var status: HTTPResponseStatus
    /// The head up to (not including) its final empty line.
    var bytes: ByteBuffer
    var fields: [Field]
    /// Whether the upstream lets the connection be reused after this response.
    var keepAlive: Bool
    var bodyFraming: Framing
    var hasContentLength: Bool
    /// `Connection` lists fields beyond the fixed hop-by-hop ones.
    var connectionNamesFields: Bool
    /// Every line ends in CRLF, so runs of lines can be passed on as they are.
    var canCopyLines: Bool

    /// Parses a head; nil when it is malformed.
    init?(parsing head: ByteBuffer, hopByHop: HeaderRules) {
        guard let (minor, code, fieldsStart) = head.withUnsafeReadableBytes(Self.statusLine) else { return nil }
        guard let (fields, canCopyLines) = Self.fields(in: head, from: fieldsStart, hopByHop: hopByHop) else { return nil }
        self.bytes = head
        self.fields = fields
        self.canCopyLines = canCopyLines
        self.version = HTTPVersion(major: 1, minor: minor)
        self.status = HTTPResponseStatus(statusCode: code)

        var contentLength: Int?
        var transferEncoding = false
        var chunked = false
        var close = false
        var keepAliveToken = false
        var namesFields = false
        for field in fields {
            switch field.kind {
            case .contentLength:
                guard let length = head.decimalValue(field), contentLength == nil || contentLength == length else { return nil }
                contentLength = length
            case .transferEncoding:
                transferEncoding = true
                // Only a final `chunked` coding delimits the body by chunks.
                chunked = head.lastToken(field, is: "chunked")
            case .connection:
                head.forEachToken(field) { token in
                    if fieldName(token, is: "close") {
                        close = true
                    } else if fieldName(token, is: "keep-alive") {
                        keepAliveToken = true
                    } else if !fieldName(token, is: "upgrade") {
                        namesFields = true
                    }
                }
            case .regular, .hopByHop, .upgrade, .strictTransportSecurity:
                break
            }
        }
        // Both would let two parsers disagree about the body's end (RFC 9112 §6.1).
        if transferEncoding && contentLength != nil { return nil }
        self.hasContentLength = contentLength != nil
        self.connectionNamesFields = namesFields
        self.keepAlive = minor == 0 ? keepAliveToken && !close : !close
        if chunked {
            bodyFraming = .chunked
        } else if let contentLength {
            bodyFraming = .length(contentLength)
        } else {
            // No length, or a transfer coding other than chunked last: the close ends it.
            bodyFraming = .untilClose
        }
    }

    /// `HTTP/1.x SP 3DIGIT [SP reason]`: minor version, code, and where the fields start.
    private static func statusLine(_ raw: UnsafeRawBufferPointer) -> (Int, Int, Int)? {
        let prefix: StaticString = "HTTP/1."
        guard raw.count >= 12 else { return nil }
        for index in 0..<7 where raw[index] != prefix.utf8Start[index] { return nil }
        guard raw[7] == UInt8(ascii: "0") || raw[7] == UInt8(ascii: "1"), raw[8] == UInt8(ascii: " ") else { return nil }
        var code = 0
        for index in 9..<12 {
            guard raw[index] >= UInt8(ascii: "0") && raw[index] <= UInt8(ascii: "9") else { return nil }
            code = code * 10 + Int(raw[index] - UInt8(ascii: "0"))
        }
        guard code >= 100 else { return nil }
        var end = 12
        while end < raw.count && raw[end] != 0x0A { end += 1 }
        let lineEnd = end > 12 && end < raw.count && raw[end - 1] == 0x0D ? end - 1 : end
        if lineEnd > 12 {
            guard raw[12] == UInt8(ascii: " ") else { return nil }
            // The reason phrase: text, spaces and tabs; never read, only checked.
            for index in 13..<lineEnd where (raw[index] < 0x20 && raw[index] != 0x09) || raw[index] == 0x7F { return nil }
        }
        return (Int(raw[7] - UInt8(ascii: "0")), code, min(end + 1, raw.count))
    }

    /// The field lines from `start` to the end: `name: value`, the name a token, the value
    /// without surrounding spaces and free of control characters. Nil when a line is not
    /// like that (obsolete line folding included). With `hopByHop`, each field's kind is
    /// decided too. Also says whether every line ends in CRLF.
    static func fields(in head: ByteBuffer, from start: Int, hopByHop: HeaderRules?) -> ([Field], Bool)? {
        head.withUnsafeReadableBytes { raw in
            guard let base = raw.baseAddress else { return ([], true) }
            var allCRLF = true
            var fields: [Field] = []
            fields.reserveCapacity(12)
            var index = start
            while index < raw.count {
                let end = memchr(base + index, 0x0A, raw.count - index).map { base.distance(to: UnsafeRawPointer($0)) } ?? raw.count
                let lineEnd = end > index && raw[end - 1] == 0x0D ? end - 1 : end
                if lineEnd == end { allCRLF = false }
                var colon = index
                while colon < lineEnd && isTokenByte(raw[colon]) { colon += 1 }
                guard colon > index, colon < lineEnd, raw[colon] == UInt8(ascii: ":") else { return nil }
                var valueStart = colon + 1
                while valueStart < lineEnd && (raw[valueStart] == 0x20 || raw[valueStart] == 0x09) { valueStart += 1 }
                var valueEnd = lineEnd
                while valueEnd > valueStart && (raw[valueEnd - 1] == 0x20 || raw[valueEnd - 1] == 0x09) { valueEnd -= 1 }
                if hasControlBytes(raw, from: valueStart, to: valueEnd) { return nil }
                var field = Field(
                    nameStart: index, nameCount: colon - index, valueStart: valueStart, valueCount: valueEnd - valueStart,
                    lineEnd: end + 1)
                if let hopByHop { field.kind = kind(of: UnsafeRawBufferPointer(rebasing: raw[index..<colon]), hopByHop) }
                fields.append(field)
                index = end + 1
            }
            return (fields, allCRLF)
        }
    }

    private static func kind(of name: UnsafeRawBufferPointer, _ hopByHop: HeaderRules) -> Kind {
        switch name.count {
        case 14 where fieldName(name, is: "content-length"): return .contentLength
        case 17 where fieldName(name, is: "transfer-encoding"): return .transferEncoding
        case 10 where fieldName(name, is: "connection"): return .connection
        case 7 where fieldName(name, is: "upgrade"): return .upgrade
        case 25 where fieldName(name, is: "strict-transport-security"): return .strictTransportSecurity
        default:
            // Only names as long as a hop-by-hop one (te, trailer, keep-alive, proxy-connection,
            // proxy-authenticate, proxy-authorization) can be one.
            guard name.count < 32, (Self.hopByHopLengths >> UInt32(name.count)) & 1 == 1 else { return .regular }
            return hopByHop.isHopByHop(bytes: name.assumingMemoryBound(to: UInt8.self), connectionTokens: nil) ? .hopByHop : .regular
        }
    }

    /// The lengths of the fixed hop-by-hop names (`HeaderRules.hopByHop`: 2, 7, 10, 14, 16-19),
    /// as bits; a test checks it against the set.
    static let hopByHopLengths: UInt32 = 0xF_4484

    /// Whether `raw[from..<to]` holds a control character other than a tab (or DEL), tested
    /// eight bytes at a time: values are most of a head's bytes.
    @inline(__always)
    private static func hasControlBytes(_ raw: UnsafeRawBufferPointer, from: Int, to: Int) -> Bool {
        var index = from
        while index + 8 <= to {
            let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            let high: UInt64 = 0x8080_8080_8080_8080
            // Some byte below 0x20, or equal to 0x7F (then look closer: tabs are fine).
            let below = (word &- 0x2020_2020_2020_2020) & ~word & high
            let delete = word ^ 0x7F7F_7F7F_7F7F_7F7F
            let deletes = (delete &- 0x0101_0101_0101_0101) & ~delete & high
            if below | deletes != 0 {
                for position in index..<(index + 8) where isControl(raw[position]) { return true }
            }
            index += 8
        }
        while index < to {
            if isControl(raw[index]) { return true }
            index += 1
        }
        return false
    }

    @inline(__always)
    private static func isControl(_ byte: UInt8) -> Bool {
        (byte < 0x20 && byte != 0x09) || byte == 0x7F
    }

    /// RFC 9110 `tchar` (letters, digits and ``!#$%&'*+-.^_`|~``), as two 64-bit masks.
    @inline(__always)
    static func isTokenByte(_ byte: UInt8) -> Bool {
        if byte < 64 { return (0x03ff_6cfa_0000_0000 as UInt64) >> byte & 1 == 1 }
        if byte < 128 { return (0x57ff_ffff_c7ff_fffe as UInt64) >> (byte - 64) & 1 == 1 }
        return false
    }
}

extension ByteBuffer {
    /// Calls `body` with a field's name (or value) bytes.
    @inline(__always)
    func withBytes<Result>(of field: UpstreamResponseHead.Field, name: Bool, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        withUnsafeReadableBytes { raw in
            let start = name ? field.nameStart : field.valueStart
            let count = name ? field.nameCount : field.valueCount
            return body(UnsafeRawBufferPointer(rebasing: raw[start..<(start + count)]))
        }
    }

    func fieldName(_ field: UpstreamResponseHead.Field, is lowercase: StaticString) -> Bool {
        withBytes(of: field, name: true) { PortcullisProxy.fieldName($0, is: lowercase) }
    }

    /// A Content-Length value: digits only.
    func decimalValue(_ field: UpstreamResponseHead.Field) -> Int? {
        withBytes(of: field, name: false) { bytes in
            guard bytes.count > 0, bytes.count <= 18 else { return nil }
            var value = 0
            for byte in bytes {
                guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
    }

    /// Calls `body` with each comma-separated token of a field's value, trimmed.
    func forEachToken(_ field: UpstreamResponseHead.Field, _ body: (UnsafeRawBufferPointer) -> Void) {
        withBytes(of: field, name: false) { bytes in
            var start = 0
            while start <= bytes.count {
                var end = start
                while end < bytes.count && bytes[end] != UInt8(ascii: ",") { end += 1 }
                var tokenStart = start
                var tokenEnd = end
                while tokenStart < tokenEnd && (bytes[tokenStart] == 0x20 || bytes[tokenStart] == 0x09) { tokenStart += 1 }
                while tokenEnd > tokenStart && (bytes[tokenEnd - 1] == 0x20 || bytes[tokenEnd - 1] == 0x09) { tokenEnd -= 1 }
                if tokenEnd > tokenStart { body(UnsafeRawBufferPointer(rebasing: bytes[tokenStart..<tokenEnd])) }
                start = end + 1
            }
        }
    }

    /// Whether the last comma-separated token of a field's value is `lowercase`.
    func lastToken(_ field: UpstreamResponseHead.Field, is lowercase: StaticString) -> Bool {
        var last = false
        forEachToken(field) { last = PortcullisProxy.fieldName($0, is: lowercase) }
        return last
    }
}
