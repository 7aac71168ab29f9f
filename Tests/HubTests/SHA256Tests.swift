import Foundation
import Hub
import Testing

@Suite struct SHA256Tests {
    /// FIPS 180-4 / NIST example vectors.
    @Test func standardVectors() {
        #expect(SHA256.hex(Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex(Data(("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                + "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu").utf8))
            == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        #expect(SHA256.hex(Data(repeating: UInt8(ascii: "a"), count: 1_000_000))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Every length around the padding boundaries, fed in uneven pieces, hashes like the whole.
    @Test func incrementalUpdatesMatchOneShot() {
        var generator = SystemRandomNumberGenerator()
        let data = Data((0..<1000).map { _ in UInt8.random(in: 0...255, using: &generator) })
        for length in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000] {
            let whole = SHA256.hex(data.prefix(length))
            var hasher = SHA256()
            var start = 0
            while start < length {
                let end = min(length, start + Int.random(in: 1...70))
                hasher.update(data[start..<end])
                start = end
            }
            #expect(hasher.hexDigest() == whole, "length \(length)")
            #expect(hasher.count == UInt64(length))
        }
    }

    /// The fixture model's hash as `sha256sum` prints it, through the file reader (and a prefix of it).
    @Test func hashesFiles() throws {
        let path = HubServer.llama.path
        #expect(try SHA256.hashFile(at: path).hexDigest()
            == "72cc620487f4786cc2ca2bf4846daa6c1584d45d7f3c4cf180ce4a438230e9e2")
        let prefix = try Data(contentsOf: HubServer.llama).prefix(12345)
        #expect(try SHA256.hashFile(at: path, length: 12345).hexDigest() == SHA256.hex(prefix))
    }
}
