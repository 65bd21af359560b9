// Op-bench records (core/op_bench.hpp): strict reading, a stable written form, gzip input.
#include "core/error.hpp"
#include "core/op_bench.hpp"

#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fstream>

#ifdef MOESIM_HAVE_ZLIB
#include <zlib.h>
#endif

using namespace moesim;
using Catch::Matchers::Contains;

namespace {

const char* doc_text = R"({"format":"moesim-op-bench-1","source":"test","system":{"gpu":"NVIDIA H200","sms":132},
"records":[
{"op":"gemm","dtype":"bf16","launch":"stream","m":64,"n":4096,"k":7168,"batch":1,"seconds":1.23e-5,"reps":50,"spread":0.02},
{"op":"attention_decode","attn":"mla","dtype":"bf16","kernel":"default","launch":"graph","batch":8,"q_heads":16,"kv_heads":1,
 "head_dim_qk":576,"head_dim_v":512,"context":4096,"kv_lora_rank":512,"rope_dim":64,"window":0,"seconds":2.0e-5},
{"op":"moe","dtype":"fp8","launch":"graph","tokens":64,"hidden":7168,"inter":2048,"topk":8,"experts":256,"moe_tp":1,
 "moe_ep":8,"distribution":"balanced","seconds":0.0001234},
{"op":"grouped_gemm","impl":"fused","dtype":"bf16","launch":"graph","n":1536,"k":2048,"rows":[3,0,7,1],"seconds":4.1e-5},
{"op":"host","api":"kernel_launch","gpu_state":"busy","threads":1,"seconds":4.5e-6},
{"op":"graph_gap","kernels":64,"seconds":1.1e-6}
]})";

std::string with_record(const std::string& record)
{
  return R"({"format":"moesim-op-bench-1","records":[)" + record + "]}";
}

} // namespace

TEST_CASE("op-bench records are read into typed fields", "[quick][op_bench]")
{
  const OpBench d = parse_op_bench(doc_text, "t.json");
  CHECK(d.source == "test");
  CHECK(d.system.text.at("gpu") == "NVIDIA H200");
  CHECK(d.system.numbers.at("sms") == 132);
  REQUIRE(d.records.size() == 6);
  const BenchRecord& g = d.records[0];
  CHECK(g.op == BenchOp::gemm);
  CHECK(*g.dtype == Dtype::bf16);
  CHECK(g.dim("m") == 64);
  CHECK(g.seconds == 1.23e-5);
  CHECK(*g.reps == 50);
  CHECK(d.records[1].attn == "mla");
  CHECK(d.records[1].kernel == "default");
  CHECK(d.records[2].distribution == "balanced");
  CHECK(*d.records[2].dtype == Dtype::fp8);
  CHECK(d.records[3].rows == std::vector<double>{3, 0, 7, 1});
  CHECK(d.records[4].api == "kernel_launch");
  CHECK_FALSE(d.records[4].dtype);
  CHECK(d.records[5].dim("kernels") == 64);
  CHECK_THROWS_WITH(g.dim("context"), Contains("gemm record has no 'context'"));
}

TEST_CASE("written records read back to the same records, and the same bytes", "[quick][op_bench]")
{
  const OpBench d = parse_op_bench(doc_text, "t.json");
  const std::string once = write_op_bench(d);
  const OpBench back = parse_op_bench(once, "once.json");
  REQUIRE(back.records.size() == d.records.size());
  for (std::size_t i = 0; i < d.records.size(); ++i) {
    CHECK(shape_key(back.records[i]) == shape_key(d.records[i]));
    CHECK(back.records[i].seconds == d.records[i].seconds); // 4 significant digits already
  }
  CHECK(write_op_bench(back) == once);
  // One record per line: the header line, "records":[ and six records.
  CHECK(once.rfind("{\"op\":\"gemm\",\"dtype\":\"bf16\",\"launch\":\"stream\",\"m\":64,\"n\":4096,\"k\":7168,\"batch\":1,"
                   "\"seconds\":1.23e-05,\"reps\":50,\"spread\":0.02}") != std::string::npos);
}

TEST_CASE("shape keys ignore the kernel, launch and time but not the dtype", "[quick][op_bench]")
{
  const OpBench d = parse_op_bench(doc_text, "t.json");
  BenchRecord a = d.records[0], b = a;
  b.kernel = "other";
  b.launch = "graph";
  b.seconds = 1;
  CHECK(shape_key(a) == shape_key(b));
  b.dtype = Dtype::fp8;
  CHECK(shape_key(a) != shape_key(b));
}

TEST_CASE("a block-scaled fp8 GEMM record and an fp8-KV attention record keep their kind", "[quick][op_bench]")
{
  const OpBench d = parse_op_bench(
      with_record(R"({"op":"gemm","dtype":"fp8","scales":"block","kernel":"deepgemm","launch":"graph","m":1,"n":128,"k":128,"batch":1,"seconds":5.43e-06},
{"op":"gemm","dtype":"fp8","launch":"graph","m":1,"n":128,"k":128,"batch":1,"seconds":1.4e-05},
{"op":"attention_decode","attn":"mla","dtype":"bf16","kv_dtype":"fp8","launch":"graph","batch":1,"q_heads":16,"context":2,"kv_lora_rank":512,"rope_dim":64,"seconds":8.7e-06})"),
      "f.json");
  REQUIRE(d.records.size() == 3);
  CHECK(d.records[0].scales == "block");
  CHECK(d.records[1].scales.empty());
  CHECK(d.records[2].kv_dtype == "fp8");
  // The scaling is part of the shape: the two GEMMs of one m, n, k are two measurements.
  CHECK(shape_key(d.records[0]) != shape_key(d.records[1]));
  // Written back, the block record keeps its scales (after its dims, as the contract's words go).
  const std::string once = write_op_bench(d);
  CHECK(once.find(R"("m":1,"n":128,"k":128,"batch":1,"scales":"block","seconds":5.43e-06)") != std::string::npos);
  CHECK(shape_key(parse_op_bench(once, "once.json").records[0]) == shape_key(d.records[0]));
}

TEST_CASE("bad records name the file, the record and the key", "[quick][op_bench]")
{
  CHECK_THROWS_WITH(parse_op_bench(with_record(R"({"op":"gemm","dtype":"bf16","m":1,"n":2,"k":3,"seconds":1e-6,"colour":1})"), "f.json"),
                    Contains("f.json: records[0].colour: unknown key for op gemm"));
  CHECK_THROWS_WITH(parse_op_bench(with_record(R"({"op":"conv","seconds":1e-6})"), "f.json"),
                    Contains("records[0].op: unknown op 'conv'"));
  CHECK_THROWS_WITH(parse_op_bench(with_record(R"({"op":"gemm","dtype":"bf16","m":1,"n":2,"k":3})"), "f.json"),
                    Contains("records[0].seconds: missing"));
  CHECK_THROWS_WITH(parse_op_bench(with_record(R"({"op":"gemm","dtype":"bf17","m":1,"n":2,"k":3,"seconds":1e-6})"), "f.json"),
                    Contains("records[0].dtype"));
  CHECK_THROWS_WITH(parse_op_bench(with_record(R"({"op":"gemm","dtype":"bf16","m":1,"n":2,"seconds":1e-6})"), "f.json"),
                    Contains("records[0].k: missing"));
  CHECK_THROWS_WITH(parse_op_bench(with_record(R"({"op":"gemm","dtype":"bf16","m":-1,"n":2,"k":3,"seconds":1e-6})"), "f.json"),
                    Contains("records[0].m: must be a non-negative number"));
  CHECK_THROWS_WITH(parse_op_bench(with_record(R"({"op":"attention_decode","attn":"mha","dtype":"bf16","batch":1,"q_heads":1,
    "kv_heads":1,"head_dim_qk":64,"head_dim_v":64,"context":2,"kv_lora_rank":0,"rope_dim":0,"window":0,"seconds":1e-6})"), "f.json"),
                    Contains("records[0].attn: must be gqa or mla"));
  CHECK_THROWS_WITH(parse_op_bench(with_record(R"({"op":"gemm","dtype":"fp8","scales":"row","m":1,"n":2,"k":3,"seconds":1e-6})"), "f.json"),
                    Contains("f.json: records[0].scales: 'row' is not a scaling moesim knows for fp8 weights"));
  CHECK_THROWS_WITH(parse_op_bench(with_record(R"({"op":"gemm","dtype":"bf16","scales":"block","m":1,"n":2,"k":3,"seconds":1e-6})"), "f.json"),
                    Contains("f.json: records[0].scales: 'block' is not a scaling moesim knows for bf16 weights"));
  CHECK_THROWS_WITH(parse_op_bench(R"({"format":"other","records":[]})", "f.json"), Contains("f.json: format"));
  CHECK_THROWS_WITH(parse_op_bench(R"({"format":"moesim-op-bench-1","records":[],"extra":1})", "f.json"),
                    Contains("extra: unknown top-level key"));
  CHECK_THROWS_WITH(parse_op_bench("{\"format\":", "f.json"), Contains("malformed JSON"));
  CHECK_THROWS_AS(read_op_bench_file("/nonexistent/records.json"), InputError);
}

TEST_CASE("a gzip-compressed records file reads as its plain text", "[quick][op_bench]")
{
  moesim::test::TempDir dir("op_bench_gz");
  const std::string plain = dir.write("r.json", doc_text), packed = dir.file("r.json.gz");
#ifdef MOESIM_HAVE_ZLIB
  gzFile z = gzopen(packed.c_str(), "wb");
  REQUIRE(z);
  gzputs(z, doc_text);
  gzclose(z);
  CHECK(write_op_bench(read_op_bench_file(packed)) == write_op_bench(read_op_bench_file(plain)));
  // A damaged stream (the first 40 bytes only) is an error naming the file.
  std::ifstream in(packed, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(packed, std::ios::binary) << bytes.substr(0, 40);
  CHECK_THROWS_WITH(read_op_bench_file(packed), Contains("r.json.gz") && Contains("gzip stream"));
#else
  // Without zlib a gzip file is refused with the fix.
  std::ofstream(packed, std::ios::binary) << std::string("\x1f\x8b\x08\x00", 4);
  CHECK_THROWS_WITH(read_op_bench_file(packed), Contains("gunzip it first"));
#endif
}
