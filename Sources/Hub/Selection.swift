import Foundation

/// A file in a hub repository, as the model API lists it.
public struct RepoFile: Equatable, Sendable {
    /// The path inside the repository (`siblings[].rfilename`).
    public var name: String
    /// Bytes, when the API said (`lfs.size`, else `size`).
    public var size: Int64?
    /// The content's sha256 in hex, for LFS files (`lfs.sha256`).
    public var sha256: String?

    public init(name: String, size: Int64? = nil, sha256: String? = nil) {
        self.name = name
        self.size = size
        self.sha256 = sha256
    }
}

/// One model in a repository: a single GGUF file, or the parts of a split one (`…-00001-of-00003.gguf`), in order.
public struct GGUFChoice: Equatable, Sendable {
    public var files: [RepoFile]
    /// The quant type named in the file name (`Q4_K_M`), when there is one.
    public var quant: String?
    /// The name without the part suffix: what the user sees.
    public var name: String
    /// Parts the name promises (1 for a single file).
    public var expectedParts: Int

    public var isComplete: Bool { files.count == expectedParts }
    public var totalSize: Int64? {
        files.reduce(Int64(0) as Int64?) { sum, file in sum.flatMap { s in file.size.map { s + $0 } } }
    }
}

/// How a GGUF file is chosen from a repository's files.
public enum Selection {
    /// The quant `pull OWNER/REPO` picks when a repository has several and none was named.
    public static let defaultQuant = "Q4_K_M"

    /// Groups the repository's GGUF files into models (split files together); multimodal projectors and
    /// importance matrices are left out.
    public static func models(in files: [RepoFile]) -> [GGUFChoice] {
        var groups: [String: [(index: Int, of: Int, file: RepoFile)]] = [:]
        var order: [String] = []
        for file in files where file.name.lowercased().hasSuffix(".gguf") {
            let (base, part) = splitPart(file.name)
            if groups[base] == nil { order.append(base) }
            groups[base, default: []].append((part?.index ?? 1, part?.of ?? 1, file))
        }
        return order.map { base in
            let parts = groups[base]!.sorted { $0.index < $1.index }
            return GGUFChoice(files: parts.map(\.file), quant: quant(ofFile: base), name: base,
                              expectedParts: parts.map(\.of).max() ?? 1)
        }
    }

    /// Picks the model `quant` names (a quant type such as `q4_k_m`, case-insensitive, or a file name), or the
    /// repository's only model, or the default quant; otherwise an error that lists what there is.
    public static func choose(from files: [RepoFile], quant: String?, repo: String) throws -> GGUFChoice {
        let all = models(in: files)
        guard !all.isEmpty else {
            let names = files.prefix(12).map(\.name).joined(separator: ", ")
            throw HubError("\(repo) has no GGUF files" + (files.isEmpty ? "" : " (it has \(names)"
                + (files.count > 12 ? ", …)" : ")")) + "; moecoder runs GGUF models: look for a repository named …-GGUF")
        }
        let candidates = all.filter { !isAuxiliary($0.name) }
        let choice: GGUFChoice
        if let quant {
            choice = try match(quant, in: all, candidates: candidates, repo: repo)
        } else if candidates.count == 1 {
            choice = candidates[0]
        } else if let preferred = unique(candidates.filter { $0.quant?.uppercased() == defaultQuant }) {
            choice = preferred
        } else {
            throw HubError("\(repo) has \(candidates.count) GGUF models: name one as \(repo):QUANT; available: "
                + available(candidates))
        }
        guard choice.isComplete else {
            let have = choice.files.map { splitPart($0.name).part?.index ?? 1 }.map(String.init).joined(separator: ", ")
            throw HubError("\(choice.name) is split into \(choice.expectedParts) parts but \(repo) lists only "
                + "part(s) \(have); refusing an incomplete download")
        }
        return choice
    }

    /// `Q4_K_M, Q8_0 (2 parts), …` for messages.
    public static func available(_ models: [GGUFChoice]) -> String {
        models.map { model in
            let label = model.quant ?? (model.name as NSString).lastPathComponent
            return model.expectedParts > 1 ? "\(label) (\(model.expectedParts) parts)" : label
        }.joined(separator: ", ")
    }

    static func match(_ quant: String, in all: [GGUFChoice], candidates: [GGUFChoice], repo: String) throws -> GGUFChoice {
        let wanted = quant.lowercased()
        // A file name, with or without folder and extension.
        let byName = all.filter { model in
            let names = [model.name] + model.files.map(\.name)
            return names.contains { name in
                let lower = name.lowercased()
                let last = (lower as NSString).lastPathComponent
                return lower == wanted || last == wanted || lower == wanted + ".gguf" || last == wanted + ".gguf"
            }
        }
        if let model = unique(byName) { return model }
        if let model = unique(candidates.filter { $0.quant?.lowercased() == wanted }) { return model }
        for separators in ["-./", "-./_ "] {
            let found = candidates.filter { contains($0.name.lowercased(), token: wanted, separators: separators) }
            if let model = unique(found) { return model }
            if found.count > 1 {
                throw HubError("'\(quant)' matches \(found.count) GGUF models in \(repo): \(available(found)); name "
                    + "one (\(repo):\(found[0].quant ?? "QUANT")) or give a file name (\(repo):FILE.gguf)")
            }
        }
        throw HubError("\(repo) has no GGUF for '\(quant)'; available: \(available(candidates.isEmpty ? all : candidates))")
    }

    static func unique(_ models: [GGUFChoice]) -> GGUFChoice? { models.count == 1 ? models[0] : nil }

    static func isAuxiliary(_ name: String) -> Bool {
        let last = (name.lowercased() as NSString).lastPathComponent
        return last.contains("mmproj") || last.contains("imatrix")
    }

    /// Whether `token` occurs in `text` between separators (or the ends).
    static func contains(_ text: String, token: String, separators: String) -> Bool {
        let text = Array(text), token = Array(token)
        guard !token.isEmpty, token.count <= text.count else { return false }
        for start in 0...(text.count - token.count) where Array(text[start..<start + token.count]) == token {
            let before = start == 0 || separators.contains(text[start - 1])
            let end = start + token.count
            let after = end == text.count || separators.contains(text[end])
            if before && after { return true }
        }
        return false
    }

    /// `name-00002-of-00003.gguf` → (`name.gguf`, (2, 3)).
    public static func splitPart(_ name: String) -> (base: String, part: (index: Int, of: Int)?) {
        let lower = name.lowercased()
        guard lower.hasSuffix(".gguf") else { return (name, nil) }
        let stem = Array(name.dropLast(5))
        // "-00001-of-00003": 15 characters.
        guard stem.count > 15 else { return (name, nil) }
        let tail = String(stem[(stem.count - 15)...])
        let pieces = tail.split(separator: "-", omittingEmptySubsequences: false)
        guard pieces.count == 4, pieces[0].isEmpty, pieces[2] == "of", pieces[1].count == 5, pieces[3].count == 5,
              let index = Int(pieces[1]), let of = Int(pieces[3]), index >= 1, of >= 1, index <= of
        else { return (name, nil) }
        return (String(stem[..<(stem.count - 15)]) + ".gguf", (index, of))
    }

    /// The quant type at the end of a GGUF file name: `…-Q4_K_M.gguf` → `Q4_K_M`, `….IQ4_XS.gguf` → `IQ4_XS`,
    /// `…-UD-Q4_K_XL.gguf` → `UD-Q4_K_XL`, `…-mxfp4.gguf` → `MXFP4`; nil when the name has none.
    public static func quant(ofFile name: String) -> String? {
        var stem = (splitPart(name).base as NSString).lastPathComponent
        if stem.lowercased().hasSuffix(".gguf") { stem = String(stem.dropLast(5)) }
        let tokens = stem.split(whereSeparator: { $0 == "-" || $0 == "." }).map(String.init)
        guard let last = tokens.last, isQuantToken(last), tokens.count > 1 else { return nil }
        let quant = last.uppercased()
        if tokens.count > 2, tokens[tokens.count - 2].uppercased() == "UD" { return "UD-" + quant }
        return quant
    }

    static func isQuantToken(_ token: String) -> Bool {
        let t = token.uppercased()
        if ["F16", "F32", "BF16", "FP16", "FP32", "FP8", "MXFP4", "MXFP4_MOE"].contains(t) { return true }
        // Q4_0, Q4_K_M, IQ4_XS, IQ2_XXS, TQ1_0, Q8_K_XL …: [I|T]Q<digits>_<parts>.
        var rest = Substring(t)
        if rest.hasPrefix("I") || rest.hasPrefix("T") { rest = rest.dropFirst() }
        guard rest.hasPrefix("Q") else { return false }
        rest = rest.dropFirst()
        let digits = rest.prefix { $0.isNumber }
        guard !digits.isEmpty else { return false }
        rest = rest.dropFirst(digits.count)
        guard rest.hasPrefix("_") else { return false }
        return rest.dropFirst().split(separator: "_", omittingEmptySubsequences: false)
            .allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber } }
    }
}
