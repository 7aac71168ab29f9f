import Foundation
import Hub
import Testing

@Suite struct SelectionTests {
    func files(_ names: [String]) -> [RepoFile] { names.map { RepoFile(name: $0, size: 10) } }

    @Test func parsesReferences() throws {
        #expect(try ModelReference(parsing: "unsloth/Qwen3-Coder-30B-A3B-Instruct-GGUF:Q4_K_M")
            == ModelReference(owner: "unsloth", repo: "Qwen3-Coder-30B-A3B-Instruct-GGUF", quant: "Q4_K_M"))
        #expect(try ModelReference(parsing: "ggml-org/gpt-oss-20b-GGUF")
            == ModelReference(owner: "ggml-org", repo: "gpt-oss-20b-GGUF"))
        #expect(try ModelReference(parsing: "https://huggingface.co/a/b:q8_0") == ModelReference(owner: "a", repo: "b",
                                                                                               quant: "q8_0"))
        #expect(try ModelReference(parsing: "hf.co/a/b").id == "a/b")
        for bad in ["justone", "a/b/c", "../x", "a/..", "a/b c", "/a/b", ""] {
            #expect(throws: HubError.self, "\(bad)") { try ModelReference(parsing: bad) }
        }
        #expect(ModelReference.looksLikeReference("a/b:Q4_K_M"))
        #expect(!ModelReference.looksLikeReference("models/x.gguf"))
        #expect(!ModelReference.looksLikeReference("/tmp/a"))
        #expect(!ModelReference.looksLikeReference("model.gguf"))
    }

    @Test func readsQuantsFromFileNames() {
        #expect(Selection.quant(ofFile: "Qwen3-Coder-30B-A3B-Instruct-Q4_K_M.gguf") == "Q4_K_M")
        #expect(Selection.quant(ofFile: "codellama-7b.Q5_K_S.gguf") == "Q5_K_S")
        #expect(Selection.quant(ofFile: "gpt-oss-20b-mxfp4.gguf") == "MXFP4")
        #expect(Selection.quant(ofFile: "Qwen3-Coder-30B-A3B-Instruct-UD-Q4_K_XL.gguf") == "UD-Q4_K_XL")
        #expect(Selection.quant(ofFile: "x-IQ4_XS.gguf") == "IQ4_XS")
        #expect(Selection.quant(ofFile: "Q8_0/big-Q8_0-00002-of-00003.gguf") == "Q8_0")
        #expect(Selection.quant(ofFile: "model-bf16.gguf") == "BF16")
        #expect(Selection.quant(ofFile: "model.gguf") == nil)
        #expect(Selection.quant(ofFile: "Qwen3-30B.gguf") == nil)
    }

    @Test func splitsPartNames() {
        let (base, part) = Selection.splitPart("Q8_0/big-Q8_0-00002-of-00003.gguf")
        #expect(base == "Q8_0/big-Q8_0.gguf")
        #expect(part?.index == 2 && part?.of == 3)
        #expect(Selection.splitPart("plain-Q4_0.gguf").part == nil)
    }

    @Test func choosesByQuantCaseInsensitively() throws {
        let repo = files(["README.md", "m-Q4_K_M.gguf", "m-Q4_K_S.gguf", "m-Q8_0.gguf", "mmproj-m-F16.gguf"])
        #expect(try Selection.choose(from: repo, quant: "q4_k_m", repo: "a/b").files.map(\.name) == ["m-Q4_K_M.gguf"])
        #expect(try Selection.choose(from: repo, quant: "Q8_0", repo: "a/b").files.map(\.name) == ["m-Q8_0.gguf"])
        // No quant: the default, Q4_K_M.
        #expect(try Selection.choose(from: repo, quant: nil, repo: "a/b").quant == "Q4_K_M")
        // A file name works too.
        #expect(try Selection.choose(from: repo, quant: "m-Q4_K_S.gguf", repo: "a/b").files[0].name == "m-Q4_K_S.gguf")
        // "Q4_K" is a prefix of two quants, not a quant of its own.
        let error = #expect(throws: HubError.self) { try Selection.choose(from: repo, quant: "Q4_K", repo: "a/b") }
        #expect(error?.message.contains("matches 2 GGUF models in a/b: Q4_K_M, Q4_K_S") == true,
                "\(String(describing: error))")
        // A quant the repository does not have: what it has instead.
        let missing = #expect(throws: HubError.self) { try Selection.choose(from: repo, quant: "Q2_K", repo: "a/b") }
        #expect(missing?.message.contains("available: Q4_K_M, Q4_K_S, Q8_0") == true)
        #expect(missing?.message.contains("F16") == false)
        // The projector is not offered as a model.
        #expect(error?.message.contains("F16") == false)
    }

    @Test func theOnlyModelNeedsNoQuant() throws {
        #expect(try Selection.choose(from: files(["gpt-oss-20b-mxfp4.gguf", "mmproj-F16.gguf"]), quant: nil,
                                     repo: "a/b").quant == "MXFP4")
    }

    @Test func severalModelsWithoutTheDefaultIsAnErrorListingThem() {
        let error = #expect(throws: HubError.self) {
            try Selection.choose(from: self.files(["m-Q8_0.gguf", "m-Q6_K.gguf"]), quant: nil, repo: "a/b")
        }
        #expect(error?.message.contains("a/b:QUANT") == true)
        #expect(error?.message.contains("Q8_0") == true && error?.message.contains("Q6_K") == true)
    }

    @Test func noGGUFIsAnError() {
        let error = #expect(throws: HubError.self) {
            try Selection.choose(from: self.files(["model.safetensors", "config.json"]), quant: nil, repo: "a/b")
        }
        #expect(error?.message.contains("no GGUF") == true)
    }

    @Test func splitModelsComeTogetherOrNotAtAll() throws {
        let repo = files(["Q8_0/m-Q8_0-00002-of-00002.gguf", "Q8_0/m-Q8_0-00001-of-00002.gguf", "m-Q4_K_M.gguf"])
        let choice = try Selection.choose(from: repo, quant: "Q8_0", repo: "a/b")
        #expect(choice.files.map(\.name) == ["Q8_0/m-Q8_0-00001-of-00002.gguf", "Q8_0/m-Q8_0-00002-of-00002.gguf"])
        #expect(choice.totalSize == 20)
        let broken = files(["m-Q8_0-00001-of-00003.gguf", "m-Q8_0-00003-of-00003.gguf"])
        let error = #expect(throws: HubError.self) { try Selection.choose(from: broken, quant: nil, repo: "a/b") }
        #expect(error?.message.contains("3 parts") == true)
    }
}

@Suite struct ProgressLineTests {
    @Test func drawsBytesPercentSpeedAndETA() {
        let line = ProgressLine(width: 10).render(name: "m-Q4_K_M.gguf", received: 5 << 20, total: 20 << 20,
                                                  speed: Double(1 << 20))
        #expect(line == "m-Q4_K_M.gguf  [##--------]   25%  5.00 MiB / 20.0 MiB  1.00 MiB/s  ETA 0:15")
        #expect(ProgressLine().render(name: "x", received: 512, total: nil, speed: nil) == "x  512 B")
        #expect(ProgressLine.duration(3725) == "1:02:05")
    }
}

@Suite struct ModelCacheTests {
    @Test func defaultRootComesFromTheEnvironment() {
        #expect(ModelCache.defaultRoot(environment: ["MOECODER_CACHE": "/srv/models", "HOME": "/home/u"]).path
            == "/srv/models")
        #expect(ModelCache.defaultRoot(environment: ["HOME": "/home/u"]).path == "/home/u/.cache/moecoder/models")
    }

    @Test func fileNamesCannotLeaveTheCache() throws {
        let cache = ModelCache(root: URL(fileURLWithPath: "/tmp/c"))
        let reference = ModelReference(owner: "a", repo: "b")
        #expect(try cache.path(for: reference, file: "Q8_0/x.gguf").path == "/tmp/c/a/b/Q8_0/x.gguf")
        for bad in ["../x.gguf", "Q8_0/../../x.gguf", "/etc/x.gguf", ""] {
            #expect(throws: HubError.self, "\(bad)") { try cache.path(for: reference, file: bad) }
        }
    }

    @Test func endpointAndTokenDefaults() throws {
        let plain = HubConfiguration(environment: [:])
        #expect(plain.endpoint == "https://huggingface.co" && plain.token == nil)
        let env = HubConfiguration(environment: ["HF_ENDPOINT": "https://mirror.example/", "HF_TOKEN": "hf_x"])
        #expect(env.endpoint == "https://mirror.example" && env.token == "hf_x")
        let explicit = HubConfiguration(endpoint: "http://127.0.0.1:1", token: "t", environment: ["HF_TOKEN": "hf_x"])
        #expect(explicit.endpoint == "http://127.0.0.1:1" && explicit.token == "t")
        let client = HubClient(configuration: HubConfiguration(revision: "refs/pr/1", environment: [:]))
        #expect(try client.resolveURL(ModelReference(owner: "a", repo: "b"), file: "Q8_0/m q.gguf").absoluteString
            == "https://huggingface.co/a/b/resolve/refs%2Fpr%2F1/Q8_0/m%20q.gguf")
        #expect(try client.infoURL(ModelReference(owner: "a", repo: "b")).absoluteString
            == "https://huggingface.co/api/models/a/b/revision/refs%2Fpr%2F1?blobs=true")
    }
}
