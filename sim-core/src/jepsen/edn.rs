//! A reader for the subset of EDN that Jepsen histories use.
//!
//! Why our own: the history lines need only nil, booleans, numbers, strings, keywords,
//! symbols, vectors, lists, sets and maps, and we want exact error positions in our own
//! words. The EDN crates on crates.io are either unmaintained or bring a full reader
//! (tagged literals, big numbers) we would have to wrap to get that; this is ~150 lines.

use serde_json::{Map, Number, Value};

/// An EDN value.
#[derive(Clone, Debug, PartialEq)]
pub enum Edn {
    /// `nil`.
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
    /// A keyword, without its colon (`:ok` is `Keyword("ok")`).
    Keyword(String),
    /// A symbol.
    Symbol(String),
    /// `[...]`, `(...)` or `#{...}`.
    Seq(Vec<Edn>),
    /// `{...}`, in written order.
    Map(Vec<(Edn, Edn)>),
}

impl Edn {
    /// The value of `key` (a keyword) in a map.
    pub fn get(&self, key: &str) -> Option<&Edn> {
        match self {
            Edn::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(k, Edn::Keyword(n) if n == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The JSON form: keywords become strings with their colon (`":timed-out"`), so they
    /// stay distinct from strings; sequences become arrays; map keys become strings.
    pub fn to_json(&self) -> Value {
        match self {
            Edn::Nil => Value::Null,
            Edn::Bool(b) => Value::Bool(*b),
            Edn::Int(i) => Value::from(*i),
            Edn::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Edn::Str(s) | Edn::Symbol(s) => Value::String(s.clone()),
            Edn::Keyword(k) => Value::String(format!(":{k}")),
            Edn::Seq(items) => Value::Array(items.iter().map(Edn::to_json).collect()),
            Edn::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.as_key(), v.to_json()))
                    .collect::<Map<String, Value>>(),
            ),
        }
    }

    /// The text of a key: strings and keywords bare, anything else as JSON.
    pub fn as_key(&self) -> String {
        match self {
            Edn::Str(s) | Edn::Keyword(s) | Edn::Symbol(s) => s.clone(),
            other => other.to_json().to_string(),
        }
    }
}

/// Reads one EDN value at the start of `text` (after whitespace and commas); returns it
/// and the number of bytes consumed.
///
/// # Errors
///
/// A one-line description with the column (1-based) where reading failed.
pub fn read_one(text: &str) -> Result<(Edn, usize), String> {
    let mut r = Reader { text, pos: 0 };
    let value = r.value()?;
    Ok((value, r.pos))
}

struct Reader<'a> {
    text: &'a str,
    pos: usize,
}

fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | '[' | ']' | '(' | ')' | '{' | '}' | '"' | ';')
}

impl Reader<'_> {
    fn fail<T>(&self, what: &str) -> Result<T, String> {
        Err(format!(
            "{what} at column {}",
            self.text[..self.pos].chars().count() + 1
        ))
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn skip_blank(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() || c == ',' {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
    }

    fn value(&mut self) -> Result<Edn, String> {
        self.skip_blank();
        let Some(c) = self.peek() else {
            return self.fail("expected a value, found the end of the line");
        };
        match c {
            '[' | '(' => {
                self.pos += 1;
                Ok(Edn::Seq(self.items(if c == '[' { ']' } else { ')' })?))
            }
            '#' if self.text[self.pos..].starts_with("#{") => {
                self.pos += 2;
                Ok(Edn::Seq(self.items('}')?))
            }
            '{' => {
                self.pos += 1;
                let items = self.items('}')?;
                if items.len() % 2 != 0 {
                    return self.fail("a map needs an even number of forms");
                }
                let mut it = items.into_iter();
                let mut entries = Vec::new();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    entries.push((k, v));
                }
                Ok(Edn::Map(entries))
            }
            '"' => self.string(),
            ']' | ')' | '}' => self.fail(&format!("unexpected `{c}`")),
            _ => self.atom(),
        }
    }

    fn items(&mut self, close: char) -> Result<Vec<Edn>, String> {
        let mut items = Vec::new();
        loop {
            self.skip_blank();
            match self.peek() {
                None => return self.fail(&format!("missing `{close}`")),
                Some(c) if c == close => {
                    self.pos += 1;
                    return Ok(items);
                }
                Some(_) => items.push(self.value()?),
            }
        }
    }

    fn string(&mut self) -> Result<Edn, String> {
        self.pos += 1;
        let mut s = String::new();
        loop {
            let Some(c) = self.peek() else {
                return self.fail("unterminated string");
            };
            self.pos += c.len_utf8();
            match c {
                '"' => return Ok(Edn::Str(s)),
                '\\' => {
                    let Some(e) = self.peek() else {
                        return self.fail("unterminated string");
                    };
                    self.pos += e.len_utf8();
                    s.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        other => other,
                    });
                }
                _ => s.push(c),
            }
        }
    }

    fn atom(&mut self) -> Result<Edn, String> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if is_delimiter(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
        let token = &self.text[start..self.pos];
        if token.is_empty() {
            return self.fail("expected a value");
        }
        Ok(match token {
            "nil" => Edn::Nil,
            "true" => Edn::Bool(true),
            "false" => Edn::Bool(false),
            _ if token.starts_with(':') => {
                if token.len() == 1 {
                    self.pos = start;
                    return self.fail("empty keyword");
                }
                Edn::Keyword(token[1..].to_string())
            }
            _ if token.starts_with(|c: char| c.is_ascii_digit())
                || (token.len() > 1 && token.starts_with(['-', '+'])) =>
            {
                let digits = token.trim_end_matches(['N', 'M']);
                if let Ok(i) = digits.parse::<i64>() {
                    Edn::Int(i)
                } else if let Ok(f) = digits.parse::<f64>() {
                    Edn::Float(f)
                } else {
                    self.pos = start;
                    return self.fail(&format!("bad number `{token}`"));
                }
            }
            _ => Edn::Symbol(token.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_history_subset() {
        let (v, used) =
            read_one(r#"{:process 0, :type :invoke, :f :cas, :value [1 -4], :s "a\"b"} tail"#)
                .unwrap();
        assert_eq!(
            &r#"{:process 0, :type :invoke, :f :cas, :value [1 -4], :s "a\"b"} tail"#[used..],
            " tail"
        );
        assert_eq!(v.get("process"), Some(&Edn::Int(0)));
        assert_eq!(v.get("type"), Some(&Edn::Keyword("invoke".into())));
        assert_eq!(v.get("value").unwrap().to_json(), json!([1, -4]));
        assert_eq!(v.get("s"), Some(&Edn::Str("a\"b".into())));
        assert_eq!(read_one("nil").unwrap().0, Edn::Nil);
        assert_eq!(
            read_one(":timed-out").unwrap().0.to_json(),
            json!(":timed-out")
        );
        assert_eq!(read_one("#{1 2}").unwrap().0.to_json(), json!([1, 2]));
        assert_eq!(read_one("2.5").unwrap().0, Edn::Float(2.5));
    }

    #[test]
    fn errors_say_where() {
        assert_eq!(read_one("[1 2").unwrap_err(), "missing `]` at column 5");
        assert_eq!(
            read_one("{:a}").unwrap_err(),
            "a map needs an even number of forms at column 5"
        );
        assert!(read_one("\"abc").unwrap_err().contains("unterminated"));
        assert!(read_one("").is_err());
        assert!(read_one("]").is_err());
        assert!(read_one("12x").unwrap_err().contains("bad number"));
    }
}
