// See json.h. Recursive descent over the text; numbers through strtod (JSON numbers are a subset).
#include "json.h"

#include <cmath>
#include <cstdlib>
#include <stdexcept>

namespace twinfer {
namespace trt {

class JsonParser {
 public:
  explicit JsonParser(const std::string& s) : s_(s) {}

  Json document() {
    Json v = value(0);
    ws();
    if (i_ != s_.size()) fail("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("network description: invalid JSON at offset " + std::to_string(i_) + ": " + what);
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) i_++;
  }
  bool eat(char c) {
    ws();
    if (i_ < s_.size() && s_[i_] == c) {
      i_++;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }
  bool word(const char* w) {
    size_t n = 0;
    while (w[n]) n++;
    if (s_.compare(i_, n, w) == 0) {
      i_ += n;
      return true;
    }
    return false;
  }

  Json value(int depth) {
    if (depth > 64) fail("nested too deeply");
    ws();
    if (i_ >= s_.size()) fail("unexpected end");
    Json v;
    const char c = s_[i_];
    if (c == '{') {
      i_++;
      v.type_ = Json::Type::Object;
      if (eat('}')) return v;
      do {
        ws();
        std::string key = str();
        expect(':');
        v.object_[key] = value(depth + 1);
      } while (eat(','));
      expect('}');
    } else if (c == '[') {
      i_++;
      v.type_ = Json::Type::Array;
      if (eat(']')) return v;
      do v.array_.push_back(value(depth + 1));
      while (eat(','));
      expect(']');
    } else if (c == '"') {
      v.type_ = Json::Type::String;
      v.string_ = str();
    } else if (word("true")) {
      v.type_ = Json::Type::Bool;
      v.bool_ = true;
    } else if (word("false")) {
      v.type_ = Json::Type::Bool;
    } else if (word("null")) {
      v.type_ = Json::Type::Null;
    } else {
      const char* begin = s_.c_str() + i_;
      char* end = nullptr;
      v.number_ = std::strtod(begin, &end);
      if (end == begin) fail("expected a value");
      i_ += static_cast<size_t>(end - begin);
      v.type_ = Json::Type::Number;
    }
    return v;
  }

  static void utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  uint32_t hex4() {
    if (i_ + 4 > s_.size()) fail("short \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
      const char h = s_[i_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') v |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v |= static_cast<uint32_t>(h - 'A' + 10);
      else fail("bad \\u escape");
    }
    return v;
  }

  std::string str() {
    if (i_ >= s_.size() || s_[i_] != '"') fail("expected a string");
    i_++;
    std::string out;
    while (true) {
      if (i_ >= s_.size()) fail("unterminated string");
      const char c = s_[i_++];
      if (c == '"') break;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) fail("unterminated escape");
      const char e = s_[i_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && i_ + 1 < s_.size() && s_[i_] == '\\' && s_[i_ + 1] == 'u') {
            i_ += 2;
            const uint32_t lo = hex4();
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          utf8(out, cp);
          break;
        }
        default: fail("bad escape");
      }
    }
    return out;
  }

  const std::string& s_;
  size_t i_ = 0;
};

Json Json::parse(const std::string& text) { return JsonParser(text).document(); }

double Json::number() const {
  if (type_ != Type::Number) throw std::runtime_error("network description: expected a number");
  return number_;
}

int64_t Json::integer() const {
  const double d = number();
  if (d != std::floor(d) || std::fabs(d) > 9007199254740992.0) throw std::runtime_error("network description: expected an integer");
  return static_cast<int64_t>(d);
}

const std::string& Json::string() const {
  if (type_ != Type::String) throw std::runtime_error("network description: expected a string");
  return string_;
}

bool Json::boolean() const {
  if (type_ != Type::Bool) throw std::runtime_error("network description: expected true or false");
  return bool_;
}

const std::vector<Json>& Json::array() const {
  if (type_ != Type::Array) throw std::runtime_error("network description: expected an array");
  return array_;
}

const std::map<std::string, Json>& Json::object() const {
  if (type_ != Type::Object) throw std::runtime_error("network description: expected an object");
  return object_;
}

bool Json::has(const std::string& key) const { return type_ == Type::Object && object_.count(key) > 0; }

const Json& Json::at(const std::string& key) const {
  const auto& o = object();
  const auto it = o.find(key);
  if (it == o.end()) throw std::runtime_error("network description: missing \"" + key + "\"");
  return it->second;
}

double Json::num(const std::string& key, double def) const {
  if (!has(key)) return def;
  const Json& v = at(key);
  // JSON has no infinities: the serializer writes null for them (JSON.stringify of +-Infinity).
  if (v.isNull()) return def;
  return v.number();
}

int64_t Json::integer(const std::string& key, int64_t def) const { return has(key) ? at(key).integer() : def; }

std::string Json::str(const std::string& key, const std::string& def) const { return has(key) ? at(key).string() : def; }

std::vector<int64_t> Json::ints(const std::string& key) const {
  std::vector<int64_t> out;
  if (!has(key)) return out;
  for (const Json& v : at(key).array()) out.push_back(v.integer());
  return out;
}

std::vector<double> Json::nums(const std::string& key) const {
  std::vector<double> out;
  if (!has(key)) return out;
  for (const Json& v : at(key).array()) out.push_back(v.number());
  return out;
}

}  // namespace trt
}  // namespace twinfer
