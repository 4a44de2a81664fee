// What signing an identity assertion costs when the per-loop cache misses (bench/assertion.sh).
// The cached cost is what a proxied request pays with the assertion on: compare bench/auth.sh
// with and without AUTH_AUTHZ=1.
import Foundation
import PortcullisAuth
import PortcullisCore

let count = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 20_000
let signer = AssertionSigner(keys: .generated())
let identity = Identity(
    username: "jane.doe@contoso.org", email: "jane.doe@contoso.org", displayName: "Jane Doe", objectId: "0b000000-0000-4000-8000-000000000001",
    tenantId: "7c000000-0000-4000-8000-000000000001", roles: ["Keyfax.ScriptAuthor", "Repairs.Read"],
    groups: (1...12).map { String(format: "9a000000-0000-4000-8000-%012d", $0) }, method: .sso)

func measure(_ label: String, _ body: () throws -> Void) rethrows -> Double {
    let clock = ContinuousClock()
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let cpuBefore = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e6 + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
    let start = clock.now
    try body()
    let wall = clock.now - start
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let cpuAfter = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e6 + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
    let perItem = (cpuAfter - cpuBefore) / Double(count)
    print(String(format: "%-44@ %8.2f µs CPU each (%d in %.2f s wall)", label as NSString, perItem, count, Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18))
    return perItem
}

var last = ""
let sign = try measure("sign (cache miss: claims, JSON, ECDSA P-256)") {
    for index in 0..<count {
        let claims = AssertionClaims(
            identity: identity, permissions: ["ScriptEdit", "Reports"], audience: "keyfax", issuer: "https://gateway.contoso.org",
            now: Date(timeIntervalSince1970: 1_800_000_000 + Double(index)), lifetime: 60)
        last = try signer.sign(claims)
    }
}
print("assertion size: \(last.utf8.count) bytes")
print(String(format: "cache misses per user and route: one per %d s of use (lifetime 60 s, renewed 15 s early), so signing adds about %.3f µs per request at 1 request/s per user",
    45, sign / 45))
