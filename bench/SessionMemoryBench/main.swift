// SessionMemoryBench: what N live sessions cost in the `memory` session store.
//
// usage: SessionMemoryBench [SESSIONS [LIMIT_MIB]]     (defaults 100000 and 300)
//
// Creates the store as the gateway does (`SessionCache`, here with capacity 200,000 and an
// 8-hour idle timeout), reads the process's VmRSS, puts SESSIONS realistic sessions into it
// (Entra-shaped identity, 3 app roles, 5 group ids, provider session id, logout hint, and a
// ~1,500-character refresh token as Entra issues them), reads VmRSS again and prints the
// difference: the figure the issue's target is about (<= LIMIT_MIB for 100,000 sessions).
//
// The session keeps its refresh token and logout hint packed (six bits a character), and the
// store shares repeated identity values (tenant id, role list, group ids) between sessions;
// the group ids here are random, so only the tenant id and the role list repeat: the worst case.
//
// Honest about the allocator: the verdict uses the RSS delta exactly as measured, with every
// temporary the construction made (as the gateway's JSON decoding makes them too). The live
// heap (glibc malloc_stats, in-use bytes) is printed alongside, so fragmentation shows as the gap between the
// two rather than being trimmed away. Every string and array in a session is its own
// allocation, as in the gateway, where each comes from decoding a token; nothing is shared
// between sessions by copy-on-write.
//
// Exit status: 0 PASS, 1 FAIL, 2 usage or measurement error.
import Foundation
import PortcullisCore
import PortcullisSessions

#if canImport(Glibc)
import Glibc
#endif

// MARK: Measurement

/// VmRSS of this process in KiB, from /proc/self/status.
func residentKiB() -> Int {
    guard let handle = FileHandle(forReadingAtPath: "/proc/self/status") else { return -1 }
    defer { try? handle.close() }
    let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        if fields.count >= 2, let kib = Int(fields[1]) { return kib }
    }
    return -1
}

/// Bytes the program holds in malloc'd blocks, small and mmap'd ("in use bytes" of the
/// "Total (incl. mmap)" that glibc's `malloc_stats()` prints), or -1 when unavailable.
/// `malloc_stats` is looked up at run time (Swift's Glibc module leaves out <malloc.h>) and
/// its stderr output caught in a temporary file.
func heapInUseBytes() -> Int {
    #if canImport(Glibc)
    guard let symbol = dlsym(dlopen(nil, RTLD_LAZY), "malloc_stats") else { return -1 }
    let mallocStats = unsafeBitCast(symbol, to: (@convention(c) () -> Void).self)
    var template = Array("/tmp/session-memory-stats.XXXXXX".utf8CString)
    let file = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard file >= 0 else { return -1 }
    let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    defer { close(file); unlink(path) }
    fflush(nil)
    let savedError = dup(2)
    guard savedError >= 0, dup2(file, 2) >= 0 else { return -1 }
    mallocStats()
    fflush(nil)
    dup2(savedError, 2)
    close(savedError)
    guard let text = try? String(contentsOfFile: path, encoding: .utf8),
          let total = text.range(of: "Total (incl. mmap):") else { return -1 }
    for line in text[total.upperBound...].split(separator: "\n") where line.contains("in use bytes") {
        return Int(line.split(separator: "=").last?.trimmingCharacters(in: .whitespaces) ?? "") ?? -1
    }
    return -1
    #else
    return -1
    #endif
}

func mib(_ kib: Int) -> String { String(format: "%.1f", Double(kib) / 1024) }

// MARK: Realistic values, each a fresh allocation

/// Deterministic and fast (SplitMix64): 100,000 refresh tokens are 150 MB of characters.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

let base64URL = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
let hexDigits = Array("0123456789abcdef".utf8)

/// `prefix` followed by random base64url characters, `count` characters in all.
func token(_ prefix: String, count: Int, _ rng: inout SplitMix64) -> String {
    let head = Array(prefix.utf8)
    return String(unsafeUninitializedCapacity: count) { buffer in
        for index in 0..<count {
            buffer[index] = index < head.count ? head[index] : base64URL[Int(rng.next() & 63)]
        }
        return count
    }
}

/// A lowercase GUID string (36 characters), as Entra writes `oid`, `tid`, `sid` and group ids.
func guid(_ rng: inout SplitMix64) -> String {
    String(unsafeUninitializedCapacity: 36) { buffer in
        var bits = rng.next()
        var used = 0
        for index in 0..<36 {
            if index == 8 || index == 13 || index == 18 || index == 23 {
                buffer[index] = UInt8(ascii: "-")
                continue
            }
            if used == 16 { bits = rng.next(); used = 0 }
            buffer[index] = hexDigits[Int(bits & 15)]
            bits >>= 4
            used += 1
        }
        return 36
    }
}

/// A copy of `text` in its own allocation (decoding a token gives every session its own).
func fresh(_ text: String) -> String { String(decoding: Array(text.utf8), as: UTF8.self) }

let firstNames = ["Alice", "Bernard", "Chloé", "Dmitri", "Elena", "Farid", "Greta", "Hiroshi", "Ingrid", "Jamal",
                  "Katarzyna", "Luis", "Maren", "Nnamdi", "Olivia", "Pieter", "Quentin", "Rosalind", "Sanjay", "Tove"]
let lastNames = ["Archer", "Bergström", "Castellanos", "Dubois", "Eriksen", "Fitzgerald", "Gonzalez", "Hakkinen",
                 "Ibrahim", "Jankowski", "Kowalczyk", "Lindqvist", "Montgomery", "Nakamura", "Oyelaran", "Petrov"]
let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

func makeIdentity(_ number: Int, _ rng: inout SplitMix64) -> Identity {
    let first = firstNames[number % firstNames.count]
    let last = lastNames[(number / firstNames.count) % lastNames.count]
    let digits = String(number)
    let padded = String(repeating: "0", count: max(0, 5 - digits.count)) + digits
    var roles: [String] = []
    roles.reserveCapacity(3)
    roles.append(fresh("Repairs.Read"))
    roles.append(fresh("Repairs.Write"))
    roles.append(fresh("Reports.Export"))
    var groups: [String] = []
    groups.reserveCapacity(5)
    for _ in 0..<5 { groups.append(guid(&rng)) }
    return Identity(
        username: "user\(padded)@contoso.example",
        email: "\(first.lowercased()).\(last.lowercased())\(number)@contoso.example",
        displayName: "\(first) \(last)",
        objectId: guid(&rng),
        tenantId: fresh(tenant),
        roles: roles,
        groups: groups,
        method: .sso)
}

func logoutHint(_ rng: inout SplitMix64) -> String { token("O.", count: 100, &rng) }
func refreshToken(_ rng: inout SplitMix64) -> String { token("1.AXEA", count: 1_500, &rng) }

func makeSession(_ number: Int, now: Date, _ rng: inout SplitMix64) -> Session {
    Session(
        id: SessionID.random(), identity: makeIdentity(number, &rng), created: now,
        absoluteExpiry: now.addingTimeInterval(86_400), lastSeen: now, validated: now,
        providerSessionID: guid(&rng), logoutHint: logoutHint(&rng), refreshToken: refreshToken(&rng))
}

/// Live-heap bytes per value of what `make` builds (its out-of-line allocations only: the
/// array holding the values is reserved before the measurement), over `count` values.
func heapPerValue<T>(_ count: Int, _ make: (Int) -> T) -> Double {
    var kept: [T] = []
    kept.reserveCapacity(count)
    let before = heapInUseBytes()
    for number in 0..<count { kept.append(make(number)) }
    let after = heapInUseBytes()
    let perValue = before >= 0 && after >= 0 ? Double(after - before) / Double(count) : .nan
    withExtendedLifetime(kept) {}
    return perValue
}

// MARK: Main

let arguments = CommandLine.arguments.dropFirst()
guard arguments.count <= 2, let sessions = Int(arguments.first ?? "100000"), sessions > 0,
      let limitMiB = Double(arguments.dropFirst().first ?? "300"), limitMiB > 0 else {
    FileHandle.standardError.write(Data("usage: SessionMemoryBench [SESSIONS [LIMIT_MIB]]\n".utf8))
    exit(2)
}

let cache = SessionCache(capacity: 200_000, idleTimeout: 8 * 3600)
var rng = SplitMix64(state: 0x5EED_0F_C0FFEE)
let now = Date()
// Warm up everything lazily initialised on first use (Foundation, the CSPRNG, string
// formatting, the lock), with one session that goes away again, so the baseline is the idle
// store and not the code paths.
let warm = makeSession(0, now: now, &rng)
cache.put(warm)
_ = cache.lookup(id: warm.id, now: now)
cache.remove(id: warm.id)
_ = String(format: "%.1f", 1.0)

let idleKiB = residentKiB()
let idleHeap = heapInUseBytes()
guard idleKiB > 0 else {
    FileHandle.standardError.write(Data("cannot read VmRSS from /proc/self/status\n".utf8))
    exit(2)
}

var samples: [SessionID] = []
let sampleEvery = max(1, sessions / 8)
let started = Date()
for number in 1...sessions {
    let session = makeSession(number, now: now, &rng)
    if number % sampleEvery == 0 { samples.append(session.id) }
    cache.put(session)
}
let elapsed = Date().timeIntervalSince(started)

let loadedKiB = residentKiB()
let loadedHeap = heapInUseBytes()

// Look some up (and check the store kept them all), so nothing can be optimised away.
var found = 0
var bytesSeen = 0
for id in samples {
    if let hit = cache.lookup(id: id, now: now) {
        found += 1
        bytesSeen += hit.session.refreshToken?.utf8.count ?? 0
        bytesSeen += hit.session.identity.groups.count
    }
}
guard found == samples.count, cache.count == sessions else {
    print("ERROR: the store lost sessions: \(cache.count) held of \(sessions), \(found) of \(samples.count) samples found")
    exit(2)
}

let deltaKiB = loadedKiB - idleKiB
let perSession = Double(deltaKiB) * 1024 / Double(sessions)
let heapDelta = idleHeap >= 0 && loadedHeap >= 0 ? loadedHeap - idleHeap : -1
// The target is for 100,000 sessions; for another count, scale the limit linearly.
let scaledLimitMiB = limitMiB * Double(sessions) / 100_000
let pass = Double(deltaKiB) / 1024 <= scaledLimitMiB

print("== session memory: SessionCache (the memory store), capacity 200000, idle timeout 8 h ==")
print("sessions:              \(sessions) (\(String(format: "%.1f", elapsed)) s to build and store, \(found)/\(samples.count) sampled lookups found)")
print("session shape:         username/email/display name, oid + tid GUIDs, 3 roles, 5 group GUIDs, sid GUID,")
print("                       logout hint 100 chars, refresh token 1500 chars")
print("RSS idle (store empty): \(mib(idleKiB)) MiB")
print("RSS with sessions:     \(mib(loadedKiB)) MiB")
print("RSS delta:             \(mib(deltaKiB)) MiB  (\(String(format: "%.0f", perSession)) bytes/session)")
if heapDelta >= 0 {
    let frag = Double(deltaKiB * 1024 - heapDelta) / 1_048_576
    print("live heap delta:       \(String(format: "%.1f", Double(heapDelta) / 1_048_576)) MiB  (\(String(format: "%.0f", Double(heapDelta) / Double(sessions))) bytes/session; malloc_stats); RSS − heap: \(String(format: "%.1f", frag)) MiB")
}
if heapDelta >= 0 {
    // Where the live heap goes, per session: sessions built again on their own (20,000 of
    // each kind, kept alive while measured, then freed), with and without each part; the
    // rest is the store's own structure, less what sharing repeated values saves.
    let sample = min(sessions, 20_000)
    var partsRNG = SplitMix64(state: 0xB0_0C_1E)
    let whole = heapPerValue(sample) { makeSession($0 + 1, now: now, &partsRNG) }
    let withoutRefresh = heapPerValue(sample) { number -> Session in
        var session = makeSession(number + 1, now: now, &partsRNG)
        session.refreshToken = nil
        return session
    }
    let withoutHint = heapPerValue(sample) { number -> Session in
        var session = makeSession(number + 1, now: now, &partsRNG)
        session.logoutHint = nil
        return session
    }
    let identity = heapPerValue(sample) { makeIdentity($0 + 1, &partsRNG) }
    let perSessionHeap = Double(heapDelta) / Double(sessions)
    let refresh = whole - withoutRefresh
    let hint = whole - withoutHint
    let record = whole - refresh - hint - identity
    let store = perSessionHeap - whole
    let line = { (label: String, bytes: Double) in
        print("  " + label.padding(toLength: 62, withPad: " ", startingAt: 0)
              + String(format: "%6.0f B  %5.1f%%  %6.1f MiB per 100000", bytes, bytes / perSessionHeap * 100, bytes * 100_000 / 1_048_576))
    }
    print("where the live heap goes, per session (malloc'd bytes incl. malloc's chunk overhead):")
    line("refresh token (1500 chars, packed 6 bits a character)", refresh)
    line("logout hint (100 chars, packed)", hint)
    line("identity: 5 strings, roles and groups arrays, 6 GUIDs", identity)
    line("session record, provider session id (GUID)", record)
    line("store: dictionary, LRU queue, less shared tenant/roles", store)
}
print("target:                RSS delta <= \(String(format: "%g", scaledLimitMiB)) MiB for \(sessions) sessions (\(String(format: "%g", limitMiB)) MiB per 100000, 1500-character refresh tokens)")
print("verdict:               \(pass ? "PASS" : "FAIL")  (\(mib(deltaKiB)) MiB)")
if bytesSeen < 0 { print(bytesSeen) }   // keeps the lookups observable
exit(pass ? 0 : 1)
