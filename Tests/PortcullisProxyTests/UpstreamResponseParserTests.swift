import Foundation
import NIOCore
import NIOHTTP1
import PortcullisCore
import Testing

@testable import PortcullisProxy

/// The upstream response parser, without sockets: framing, persistence, and the malformed
/// responses it must refuse, fed whole, split at every byte, and one byte at a time.
@Suite("Upstream response parser")
struct UpstreamResponseParserTests {
    static let runtime = TestRuntime.make(#"{ "routes": [{ "name": "a", "upstream": "http://127.0.0.1:1", "public": true }] }"#)
    static let rules = runtime.headerRules

    /// The head the client gets for `response` (parsed, then re-encoded).
    static func clientHead(
        _ response: String, method: HTTPMethod = .GET, version: HTTPVersion = .http1_1, upgrade: Bool = false
    ) -> (String, UpstreamRequest.ResponseFraming)? {
        guard let head = UpstreamResponseHead(parsing: ByteBuffer(string: response), hopByHop: rules) else { return nil }
        var buffer = ByteBuffer()
        let framing = UpstreamRequest.encodeResponseHead(
            from: head, runtime: runtime, requestMethod: method, clientVersion: version, keepAlive: true, isUpgrade: upgrade,
            into: &buffer)
        return (String(buffer: buffer), framing)
    }

    /// What a response turned into, in a form easy to compare.
    struct Outcome: Equatable {
        var heads: [String] = []
        var body = ""
        var ends = 0
        var trailers: [String] = []
        var keepAlive: [Bool] = []
        var switched: [String] = []
        var failure: String?
    }

    /// Feeds `chunks` after expecting `requests` responses (true: a HEAD), then EOF if asked.
    static func parse(_ chunks: [String], requests: [Bool] = [false], eof: Bool = false) -> Outcome {
        var parser = UpstreamResponseParser(hopByHop: rules)
        for bodyless in requests { parser.expectResponse(bodyless: bodyless) }
        var outcome = Outcome()
        let emit = { (event: UpstreamResponseParser.Event) in
            switch event {
            case .head(let head):
                let fields = head.fields.map { "\($0.name(in: head.bytes))=\($0.value(in: head.bytes))" }
                outcome.heads.append("\(head.version.minor) \(head.status.code) \(fields.joined(separator: ";"))")
                outcome.keepAlive.append(head.keepAlive)
            case .body(let buffer):
                outcome.body += String(buffer: buffer)
            case .end(let trailers):
                outcome.ends += 1
                if let trailers { outcome.trailers += trailers.map { "\($0.name)=\($0.value)" } }
            case .switched(let head, let leftover):
                outcome.switched.append("\(head.status.code) \(leftover.map { String(buffer: $0) } ?? "")")
            }
        }
        do {
            for chunk in chunks { try parser.feed(ByteBuffer(string: chunk), emit) }
            if eof { try parser.feedEOF(emit) }
        } catch {
            outcome.failure = error.reason
        }
        return outcome
    }

    /// The same outcome whether the bytes come whole, in two pieces split anywhere, or one
    /// byte at a time.
    static func expectSameEverySplit(_ text: String, requests: [Bool] = [false], eof: Bool = false) -> Outcome {
        let whole = parse([text], requests: requests, eof: eof)
        let bytes = Array(text.utf8)
        for split in 1..<bytes.count {
            let pieces = [String(decoding: bytes[..<split], as: UTF8.self), String(decoding: bytes[split...], as: UTF8.self)]
            #expect(parse(pieces, requests: requests, eof: eof) == whole, "split at \(split)")
        }
        #expect(parse(bytes.map { String(decoding: [$0], as: UTF8.self) }, requests: requests, eof: eof) == whole, "byte by byte")
        return whole
    }

    @Test("the hop-by-hop name lengths agree with HeaderRules")
    func hopByHopLengths() {
        #expect(UpstreamResponseHead.hopByHopLengths == HeaderRules.hopByHop.reduce(0) { $0 | 1 << UInt32($1.utf8.count) })
    }

    @Test("the token table agrees with HeaderName")
    func tokenTable() {
        for byte in 0...255 {
            #expect(UpstreamResponseHead.isTokenByte(UInt8(byte)) == HeaderName.isTokenByte(UInt8(byte)), "\(byte)")
        }
    }

    @Test("response heads pass kept lines on as received and drop hop-by-hop ones")
    func clientHeads() throws {
        // Fast path: runs of CRLF lines copied as they are.
        let plain = try #require(
            Self.clientHead("HTTP/1.1 200 OK\r\nServer: up\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nX-A:  1 \r\nContent-Length: 2\r\n"))
        #expect(plain.0 == "HTTP/1.1 200 OK\r\nServer: up\r\nX-A:  1 \r\nContent-Length: 2\r\n\r\n")
        #expect(plain.1.framing == .plain && plain.1.keepAlive)
        // Connection naming a field, and bare LF lines: field by field.
        let named = try #require(Self.clientHead("HTTP/1.1 200 OK\r\nConnection: X-Hop\r\nX-Hop: 1\r\nX-End: 2\r\nTransfer-Encoding: chunked\r\n"))
        #expect(named.0 == "HTTP/1.1 200 OK\r\nX-End: 2\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(named.1.framing == .chunked)
        let bare = try #require(Self.clientHead("HTTP/1.1 200 OK\nX-A:1\nContent-Length: 0\n"))
        #expect(bare.0 == "HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 0\r\n\r\n")
        // No framing fields where no body may follow; an HTTP/1.0 client without a length is
        // told the connection closes.
        let notModified = try #require(Self.clientHead("HTTP/1.1 304 Not Modified\r\nETag: x\r\nContent-Length: 9\r\n"))
        #expect(notModified.0 == "HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n")
        let old = try #require(Self.clientHead("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n", version: .http1_0))
        #expect(old.0 == "HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n" && old.1.framing == .untilClose && !old.1.keepAlive)
        // An upgrade keeps Upgrade and Connection.
        let switched = try #require(
            Self.clientHead("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: k\r\n", upgrade: true))
        #expect(switched.0 == "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: k\r\n\r\n")
    }

    @Test("Content-Length body, fields as received, connection reusable")
    func contentLength() {
        let outcome = Self.expectSameEverySplit("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 2\r\nX-Empty:\r\nX-Pad:  a b \r\n\r\nok")
        #expect(outcome.heads == ["1 200 Server=nginx;Content-Length=2;X-Empty=;X-Pad=a b"])
        #expect(outcome.body == "ok" && outcome.ends == 1 && outcome.keepAlive == [true] && outcome.failure == nil)
    }

    @Test("chunked body with extensions and trailers")
    func chunked() {
        let outcome = Self.expectSameEverySplit(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 9\r\n\r\n")
        #expect(outcome.body == "hello world" && outcome.ends == 1 && outcome.failure == nil)
        #expect(outcome.trailers == ["X-Sum=9"])
        #expect(outcome.keepAlive == [true])
    }

    @Test("no body after HEAD, 204 and 304 whatever the fields say; informational answers skipped")
    func bodyless() {
        let head = Self.parse(["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"], requests: [true])
        #expect(head.ends == 1 && head.body.isEmpty && head.failure == nil)
        for status in ["204 No Content", "304 Not Modified"] {
            let outcome = Self.parse(["HTTP/1.1 \(status)\r\nContent-Length: 10\r\n\r\n"])
            #expect(outcome.ends == 1 && outcome.body.isEmpty && outcome.failure == nil, "\(status)")
        }
        let early = Self.expectSameEverySplit("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")
        #expect(early.heads == ["1 200 Content-Length=1"] && early.body == "x")
    }

    @Test("two answers to two requests in one read")
    func backToBack() {
        let outcome = Self.parse(
            ["HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nb"], requests: [false, false])
        #expect(outcome.heads.count == 2 && outcome.body == "ab" && outcome.ends == 2 && outcome.failure == nil)
    }

    @Test("a 101 hands over the bytes after it")
    func switching() {
        let outcome = Self.parse(["HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\u{81}\u{2}hi"])
        #expect(outcome.switched == ["101 \u{81}\u{2}hi"] && outcome.ends == 0 && outcome.failure == nil)
    }

    @Test("a body delimited by the close ends at the close and the connection is not reused")
    func untilClose() {
        let outcome = Self.expectSameEverySplit("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it", eof: true)
        #expect(outcome.body == "all of it" && outcome.ends == 1 && outcome.keepAlive == [false] && outcome.failure == nil)
        let coded = Self.parse(["HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz"], eof: true)
        #expect(coded.body == "zz" && coded.ends == 1 && coded.keepAlive == [false])
    }

    @Test("persistence follows the version and Connection")
    func persistence() {
        #expect(Self.parse(["HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"]).keepAlive == [false])
        #expect(Self.parse(["HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"]).keepAlive == [false])
        #expect(Self.parse(["HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n"]).keepAlive == [true])
        #expect(Self.parse(["HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nContent-Length: 0\r\n\r\n"]).keepAlive == [true])
    }

    @Test("bare LF line ends are accepted")
    func bareLF() {
        let outcome = Self.expectSameEverySplit("HTTP/1.1 200 OK\nContent-Length: 3\n\nabc")
        #expect(outcome.heads == ["1 200 Content-Length=3"] && outcome.body == "abc" && outcome.failure == nil)
    }

    @Test(
        "malformed responses are refused",
        arguments: [
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 2a\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n",
            "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
            "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX-A: a\u{1}b\r\n\r\n",
            "HTTP/2.0 200 OK\r\n\r\n",
            "HTTP/1.1 20 OK\r\n\r\n",
            "HTTP/1.1 200OK\r\n\r\n",
            "hello\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n",
        ])
    func malformed(_ response: String) {
        #expect(Self.parse([response]).failure != nil, "\(response.debugDescription)")
    }

    @Test("control characters are found anywhere in a long value; tabs and non-ASCII bytes are fine")
    func controlCharacters() {
        let long = String(repeating: "abcdefgh", count: 4)
        for position in 0..<long.count {
            for control in ["\u{0}", "\u{1}", "\r", "\u{1F}", "\u{7F}"] {
                var value = Array(long)
                value[position] = Character(control)
                let outcome = Self.parse(["HTTP/1.1 200 OK\r\nX-A: \(String(value))\r\nContent-Length: 0\r\n\r\n"])
                #expect(outcome.failure != nil, "\(control.debugDescription) at \(position)")
            }
        }
        let fine = Self.parse(["HTTP/1.1 200 OK\r\nX-A: \(long)\t\(long) \u{E9}\u{20AC} \(long)\r\nContent-Length: 0\r\n\r\n"])
        #expect(fine.failure == nil && fine.ends == 1)
    }

    @Test("bytes nobody asked for, a close mid-response and an oversized head are errors")
    func otherErrors() {
        #expect(Self.parse(["HTTP/1.1 200 OK\r\n\r\n"], requests: []).failure != nil)
        #expect(Self.parse(["HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naEXTRA"]).failure != nil)
        #expect(Self.parse(["HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"], eof: true).failure != nil)
        #expect(Self.parse(["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"], eof: true).failure != nil)
        #expect(Self.parse(["HTTP/1.1 200 OK\r\nX-Big: " + String(repeating: "a", count: 90 * 1024)]).failure != nil)
        #expect(Self.parse([String(repeating: "a", count: 2000)], requests: [false]).failure == nil)
        #expect(Self.parse(["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + String(repeating: "1", count: 1100)]).failure != nil)
        // Closing before anything was answered is no error of the parser's (the exchange decides).
        #expect(Self.parse([], requests: [], eof: true).failure == nil)
    }
}
