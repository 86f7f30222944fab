import Foundation

/// The small part of OData query syntax the sandbox understands.
enum ODataFilter {
    enum Token: Equatable {
        case word(String)
        case literal(String)
        case symbol(Character)
    }

    static func tokenize(_ text: String) -> [Token]? {
        var tokens: [Token] = []
        var chars = Array(text)[...]
        while let c = chars.first {
            if c.isWhitespace {
                chars = chars.dropFirst()
            } else if c == "'" {
                chars = chars.dropFirst()
                var value = ""
                var closed = false
                while let d = chars.first {
                    chars = chars.dropFirst()
                    if d == "'" {
                        if chars.first == "'" {
                            value.append("'")
                            chars = chars.dropFirst()
                        } else {
                            closed = true
                            break
                        }
                    } else {
                        value.append(d)
                    }
                }
                guard closed else { return nil }
                tokens.append(.literal(value))
            } else if "():,=".contains(c) {
                tokens.append(.symbol(c))
                chars = chars.dropFirst()
            } else {
                var word = ""
                while let d = chars.first, !d.isWhitespace, !"():,='".contains(d) {
                    word.append(d)
                    chars = chars.dropFirst()
                }
                tokens.append(.word(word))
            }
        }
        return tokens
    }

    /// `singleValueExtendedProperties/Any(ep: ep/id eq '…' [and ep/value eq '…'])` → (id, value).
    static func parseExtendedPropertyAny(_ text: String) -> (id: String, value: String?)? {
        guard let t = tokenize(text), t.count >= 9,
            case .word(let head) = t[0], head.lowercased() == "singlevalueextendedproperties/any",
            t[1] == .symbol("("), case .word(let v) = t[2], t[3] == .symbol(":"), t.last == .symbol(")")
        else { return nil }
        let body = Array(t[4..<(t.count - 1)])
        var id: String?
        var value: String?
        var i = 0
        while i < body.count {
            if i > 0 {
                guard case .word(let conj) = body[i], conj.lowercased() == "and" else { return nil }
                i += 1
            }
            guard i + 2 < body.count, case .word(let path) = body[i], case .word(let op) = body[i + 1],
                op.lowercased() == "eq", case .literal(let lit) = body[i + 2]
            else { return nil }
            switch path.lowercased() {
            case "\(v.lowercased())/id": id = lit
            case "\(v.lowercased())/value": value = lit
            default: return nil
            }
            i += 3
        }
        guard let id else { return nil }
        return (id, value)
    }

    /// `singleValueExtendedProperties` or `singleValueExtendedProperties($filter=id eq '…')`.
    static func parseExpand(_ text: String) -> ExpandFilter? {
        guard let t = tokenize(text), case .word(let head)? = t.first,
            head.lowercased() == "singlevalueextendedproperties"
        else { return nil }
        if t.count == 1 { return ExpandFilter(id: nil) }
        guard t.count == 8, t[1] == .symbol("("), case .word(let f) = t[2], f.lowercased() == "$filter",
            t[3] == .symbol("="), case .word(let name) = t[4], name.lowercased() == "id",
            case .word(let op) = t[5], op.lowercased() == "eq", case .literal(let id) = t[6], t[7] == .symbol(")")
        else { return nil }
        return ExpandFilter(id: id)
    }
}
