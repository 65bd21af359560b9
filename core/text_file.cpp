#include "core/text_file.hpp"

#include "core/error.hpp"
#include "core/input_file.hpp"
#include "core/limits.hpp"

#ifdef MOESIM_HAVE_ZLIB
#include <zlib.h>
#endif

#include <cstdint>
#include <iterator>

namespace moesim {

namespace {

bool is_gzip(const std::string& bytes)
{
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f && static_cast<unsigned char>(bytes[1]) == 0x8b;
}

#ifdef MOESIM_HAVE_ZLIB
std::string inflate_gzip(const std::string& in, const std::string& path, std::uintmax_t limit = UINTMAX_MAX)
{
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
    throw InputError(path, "", "cannot start zlib", "check the zlib installation");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buf[1 << 16];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&z);
      throw InputError(path, "", "damaged gzip stream", "regenerate the file or pass it uncompressed");
    }
    out.append(buf, sizeof buf - z.avail_out);
    if (out.size() > limit) {
      inflateEnd(&z);
      throw InputError(path, "", "is larger than " + std::to_string(limit >> 20) +
                                     " MiB once inflated, the most moesim reads from one input file",
                       "check that this is the file you meant");
    }
    if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
      inflateEnd(&z);
      throw InputError(path, "", "truncated gzip stream", "regenerate the file or pass it uncompressed");
    }
  }
  inflateEnd(&z);
  return out;
}
#else
std::string inflate_gzip(const std::string&, const std::string& path, std::uintmax_t = 0)
{
  throw InputError(path, "", "gzip-compressed, and this build has no zlib", "gunzip it first, or install zlib1g-dev and rebuild");
}
#endif

} // namespace

std::string read_text_file(const std::string& path, const std::string& what)
{
  // read_input_file refuses a folder or a device (/dev/zero would never end) and a file past the
  // limit, and the text inflated from a gzip file is held to the same limit.
  if (!path_exists(path))
    throw InputError(path, "", "file not found", "pass " + what);
  return inflate_if_gzip(read_input_file(path, limits::json_bytes), path, limits::json_bytes);
}

std::string inflate_if_gzip(std::string bytes, const std::string& path, std::uintmax_t limit)
{
  if (!is_gzip(bytes))
    return bytes; // moved out, not copied (a schedule may be hundreds of MB)
  return inflate_gzip(bytes, path, limit);
}

} // namespace moesim
