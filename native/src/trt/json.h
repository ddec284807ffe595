// A minimal JSON reader for the network description (backends/tensorrt/network.ts): objects,
// arrays, numbers, strings (with \uXXXX escapes, BMP and surrogate pairs), true/false/null.
// Enough for one trusted producer (twinfer's serializer); errors say where parsing stopped.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace twinfer {
namespace trt {

class Json {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };

  static Json parse(const std::string& text);

  Type type() const { return type_; }
  bool isNull() const { return type_ == Type::Null; }
  bool isNumber() const { return type_ == Type::Number; }
  bool isString() const { return type_ == Type::String; }
  bool isArray() const { return type_ == Type::Array; }
  bool isObject() const { return type_ == Type::Object; }

  double number() const;
  int64_t integer() const;  // a number that must be integral
  const std::string& string() const;
  bool boolean() const;
  const std::vector<Json>& array() const;
  // Object access: has(key), at(key) (throws naming the key when missing).
  bool has(const std::string& key) const;
  const Json& at(const std::string& key) const;
  const std::map<std::string, Json>& object() const;

  // Convenience: an optional member as a number / integer / string / integer list.
  double num(const std::string& key, double def) const;
  int64_t integer(const std::string& key, int64_t def) const;
  std::string str(const std::string& key, const std::string& def) const;
  std::vector<int64_t> ints(const std::string& key) const;  // empty when absent
  std::vector<double> nums(const std::string& key) const;   // empty when absent

 private:
  friend class JsonParser;
  Type type_ = Type::Null;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<Json> array_;
  std::map<std::string, Json> object_;
};

}  // namespace trt
}  // namespace twinfer
