// The report's pictures from a small hand-made timeline: every rectangle where the timeline's times
// put it (x = left + (t - t0) * scale), coloured by its class, names escaped, link load and step
// shares derived by hand, and the same bytes every time.
#include "report/html.hpp"
#include "report/lesson.hpp"
#include "report/svg.hpp"
#include "report/svg_gantt.hpp"
#include "report/svg_links.hpp"
#include "report/svg_memory.hpp"
#include "report/svg_steps.hpp"

#include <catch2/catch.hpp>

#include <regex>

using namespace moesim;
using Catch::Matchers::Contains;

namespace {

TimelineEvent ev(int rank, int op, const std::string& name, OpKind kind, int layer, double ready, double start,
                 double sync, double end)
{
  TimelineEvent e;
  e.rank = rank;
  e.op = op;
  e.name = name;
  e.kind = kind;
  e.layer = layer;
  e.ready = ready * 1e-6;
  e.start = start * 1e-6;
  e.sync = sync * 1e-6;
  e.end = end * 1e-6;
  return e;
}

// Two ranks, three layers (times in us):
//   rank 0: L0 gemm 0-10 | L1 qkv ready 10, launched 12, ends 30 | L1 all-reduce arrives 30, all
//           there 34, ends 40 | L2 rmsnorm 40-45
//   rank 1: L0 gemm 0-10 | L1 qkv 10-34 | L1 all-reduce 34-40 | L2 rmsnorm 40-45
// The middle layer is L1: from the earliest ready (10) to the last end (40).
Timeline two_ranks(const std::string& qkv_name = "L1.attn.qkv")
{
  Timeline t;
  t.source = "sim";
  t.plan = "tp2";
  t.world = 2;
  t.step_time = 45e-6;
  t.events = {ev(0, 0, "L0.attn.qkv", OpKind::gemm, 0, 0, 0, 0, 10),
              ev(0, 1, qkv_name, OpKind::gemm, 1, 10, 12, 12, 30),
              ev(0, 2, "L1.attn.allreduce", OpKind::all_reduce, 1, 30, 30, 34, 40),
              ev(0, 3, "L2.attn.norm", OpKind::rmsnorm, 2, 40, 40, 40, 45),
              ev(1, 0, "L0.attn.qkv", OpKind::gemm, 0, 0, 0, 0, 10),
              ev(1, 1, qkv_name, OpKind::gemm, 1, 10, 10, 10, 34),
              ev(1, 2, "L1.attn.allreduce", OpKind::all_reduce, 1, 34, 34, 34, 40),
              ev(1, 3, "L2.attn.norm", OpKind::rmsnorm, 2, 40, 40, 40, 45)};
  t.events[1].shape = {1, 7168, 2048};
  t.events[1].bytes = 29.4e6;
  t.events[2].bytes = 14336;
  return t;
}

struct Rect {
  double x, y, w, h;
  std::string fill, title;
};

// Every <rect ...><title>...</title></rect> of a picture.
std::vector<Rect> rects(const std::string& svg)
{
  static const std::regex re(
      "<rect x=\"([-0-9.]+)\" y=\"([-0-9.]+)\" width=\"([-0-9.]+)\" height=\"([-0-9.]+)\" fill=\"([^\"]+)\"><title>"
      "([^<]*)</title></rect>");
  std::vector<Rect> out;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re); it != std::sregex_iterator(); ++it)
    out.push_back({std::stod((*it)[1]), std::stod((*it)[2]), std::stod((*it)[3]), std::stod((*it)[4]), (*it)[5],
                   (*it)[6]});
  return out;
}

const Rect& find(const std::vector<Rect>& rs, const std::string& title_start)
{
  for (const Rect& r : rs)
    if (r.title.rfind(title_start, 0) == 0)
      return r;
  FAIL("no rect titled " << title_start);
  return rs.front();
}

const char* fill(svg::DrawClass c)
{
  return svg::style_of(c).fill;
}

} // namespace

TEST_CASE("gantt: the middle layer's window, from its earliest ready to its last end", "[quick][report]")
{
  const TimeWindow w = representative_layer(two_ranks());
  CHECK(w.layer == 1);
  CHECK(w.microbatch == 0);
  CHECK(w.t0 == Approx(10e-6).epsilon(1e-12));
  CHECK(w.t1 == Approx(40e-6).epsilon(1e-12));
  CHECK(w.name() == "layer 1");
  CHECK_THROWS_AS(representative_layer(Timeline{}), std::invalid_argument);
}

TEST_CASE("gantt: each piece sits where its times say, coloured by its class", "[quick][report]")
{
  // Scale: the 30 us window fills the 760-pixel plot, 760 / 30e-6 px/s; the plot starts at x = 100.
  // x = 100 + (t - 10 us) * scale, width = duration * scale (25.333 px per us):
  //   rank 0 host wait 10-12 us: x 100.0, width 50.7 (pink);   qkv 12-30: x 150.7, width 456.0 (GEMM blue)
  //   rank 0 peers 30-34: x 606.7, width 101.3 (grey);          all-reduce 34-40: x 708.0, width 152.0 (orange)
  //   rank 1 qkv 10-34: x 100.0, width 608.0;                   all-reduce 34-40: x 708.0, width 152.0
  // Rows: rank 0 at y = 18 (room for the end label), rank 1 one row (18) and a gap (3) below: y = 39.
  // L0 ends at the window's start and L2 starts at its end: neither is drawn.
  const Timeline t = two_ranks();
  const TimeWindow w = representative_layer(t);
  const double scale = GanttGeometry::plot / w.length();
  const std::string s = svg_gantt(t, w, scale, "tp2 @ p b=1");
  const std::vector<Rect> rs = rects(s);
  REQUIRE(rs.size() == 6);
  const Rect& host = find(rs, "GPU 0: waiting for the host to launch L1.attn.qkv");
  CHECK(host.x == Approx(100.0).margin(0.05));
  CHECK(host.w == Approx(50.7).margin(0.05));
  CHECK(host.y == 18.0);
  CHECK(host.fill == fill(svg::DrawClass::host_wait));
  const Rect& qkv = find(rs, "GPU 0: L1.attn.qkv (gemm)");
  CHECK(qkv.x == Approx(150.7).margin(0.05));
  CHECK(qkv.w == Approx(456.0).margin(0.05));
  CHECK(qkv.fill == fill(svg::DrawClass::gemm));
  CHECK_THAT(qkv.title, Contains("18 us, from 12 us to 30 us into the step") && Contains("29.4 MB read and written") &&
                            Contains("shape 1x7168x2048"));
  const Rect& peers = find(rs, "GPU 0: waiting for peers in L1.attn.allreduce");
  CHECK(peers.x == Approx(606.7).margin(0.05));
  CHECK(peers.w == Approx(101.3).margin(0.05));
  CHECK(peers.fill == fill(svg::DrawClass::peer_wait));
  const Rect& ar = find(rs, "GPU 0: L1.attn.allreduce (all_reduce)");
  CHECK(ar.x == Approx(708.0).margin(0.05));
  CHECK(ar.w == Approx(152.0).margin(0.05));
  CHECK(ar.fill == fill(svg::DrawClass::communication));
  CHECK_THAT(ar.title, Contains("14.3 kB (NCCL size)") && Contains("waited 4 us for peers first"));
  const Rect& qkv1 = find(rs, "GPU 1: L1.attn.qkv");
  CHECK(qkv1.x == Approx(100.0).margin(0.05));
  CHECK(qkv1.w == Approx(608.0).margin(0.05));
  CHECK(qkv1.y == 39.0);
  CHECK(s.find("L0.attn.qkv") == std::string::npos);
  CHECK(s.find("L2.attn.norm") == std::string::npos);
  // The window's end: a dashed line at x = 100 + 30 us * scale = 860, labelled with its length.
  CHECK_THAT(s, Contains("<line x1=\"860.0\"") && Contains(">30 us</text>"));
  // The axis: ticks every 5 us from the window's start (the plot spans 30 us).
  CHECK_THAT(s, Contains("class=\"axis\"") && Contains(">25 us</text>") &&
                    Contains("time from the start of layer 1"));
}

TEST_CASE("gantt: a slower plan on the same scale is wider by its extra time", "[quick][report]")
{
  // The same layer drawn at half the scale (as beside a plan whose layer takes 60 us): qkv on rank 0
  // starts 2 us after the window, x = 100 + 2 us * 12.667 px/us = 125.3, and is 18 * 12.667 = 228.0 wide.
  const Timeline t = two_ranks();
  const TimeWindow w = representative_layer(t);
  const std::vector<Rect> rs = rects(svg_gantt(t, w, GanttGeometry::plot / 60e-6, "x"));
  const Rect& qkv = find(rs, "GPU 0: L1.attn.qkv");
  CHECK(qkv.x == Approx(125.3).margin(0.05));
  CHECK(qkv.w == Approx(228.0).margin(0.05));
}

TEST_CASE("gantt: the pieces of a rank add up to its breakdown", "[quick][report]")
{
  // Rank 0: compute 10 + 18 + 5 = 33 us, host 2 us, communication 6 us, peers 4 us; the step is
  // 45 us, so breakdown_of_rank's idle (the rest) is 45 - 33 - 2 - 6 = 4 us, the wait for peers.
  const Timeline t = two_ranks();
  double compute = 0, comm = 0, host = 0, peers = 0;
  for (const TimelineEvent& e : t.events)
    if (e.rank == 0)
      for (const Piece& p : pieces_of(e)) {
        const double d = p.end - p.begin;
        switch (p.cls) {
          case svg::DrawClass::gemm:
          case svg::DrawClass::attention:
          case svg::DrawClass::small_kernel: compute += d; break;
          case svg::DrawClass::communication: comm += d; break;
          case svg::DrawClass::host_wait: host += d; break;
          case svg::DrawClass::peer_wait: peers += d; break;
          case svg::DrawClass::idle: break;
        }
      }
  const Breakdown b = breakdown_of_rank(t, 0);
  CHECK(compute == Approx(33e-6).epsilon(1e-12));
  CHECK(b.compute == Approx(compute).epsilon(1e-12));
  CHECK(b.comm == Approx(comm).epsilon(1e-12));
  CHECK(b.host == Approx(host).epsilon(1e-12));
  CHECK(b.idle == Approx(peers).epsilon(1e-9));
}

TEST_CASE("gantt: colours per op class", "[quick][report]")
{
  CHECK(svg::draw_class(OpKind::gemm) == svg::DrawClass::gemm);
  CHECK(svg::draw_class(OpKind::grouped_gemm) == svg::DrawClass::gemm);
  CHECK(svg::draw_class(OpKind::attention_decode) == svg::DrawClass::attention);
  CHECK(svg::draw_class(OpKind::attention_prefill) == svg::DrawClass::attention);
  for (OpKind k : {OpKind::rmsnorm, OpKind::router, OpKind::topk, OpKind::permute, OpKind::silu_mul,
                   OpKind::unpermute, OpKind::residual_add, OpKind::embedding, OpKind::sample})
    CHECK(svg::draw_class(k) == svg::DrawClass::small_kernel);
  for (OpKind k : {OpKind::all_reduce, OpKind::all_gather, OpKind::reduce_scatter, OpKind::all_to_all, OpKind::send,
                   OpKind::recv})
    CHECK(svg::draw_class(k) == svg::DrawClass::communication);
  CHECK(svg::draw_class(OpKind::host_sync) == svg::DrawClass::host_wait);
  // Seven classes, seven different colours, each in the legend with its label.
  const auto& styles = svg::draw_styles();
  REQUIRE(styles.size() == 7);
  std::vector<svg::LegendItem> items;
  for (size_t i = 0; i < styles.size(); i++) {
    for (size_t j = 0; j < i; j++)
      CHECK(std::string(styles[i].fill) != styles[j].fill);
    items.push_back({styles[i].label, styles[i].fill});
  }
  const std::string legend = svg::legend(items, 900);
  for (const auto& s : styles)
    CHECK_THAT(legend, Contains(std::string("fill=\"") + s.fill + "\"") && Contains(std::string(">") + s.label + "<"));
}

TEST_CASE("gantt: names are escaped in titles and attributes", "[quick][report]")
{
  const Timeline t = two_ranks("L1.<attn>&\"x\"");
  const TimeWindow w = representative_layer(t);
  const std::string s = svg_gantt(t, w, 1e7, "a<b & \"c\"");
  CHECK_THAT(s, Contains("L1.&lt;attn&gt;&amp;&quot;x&quot;") && Contains("data-scenario=\"a&lt;b &amp; &quot;c&quot;\""));
  CHECK(s.find("<attn>") == std::string::npos);
  CHECK(s.find("a<b") == std::string::npos);
  CHECK(svg::esc("<&>\"") == "&lt;&amp;&gt;&quot;");
}

TEST_CASE("link load: bytes spread over their interval, per bin, over the class capacity", "[quick][report]")
{
  // PCIe capacity 100 GB/s. 1 MB over [10, 30] us runs at 50 GB/s (50%); 0.5 MB over [15, 25] us at
  // 50 GB/s too. Four bins over [0, 40] us: [0,10] nothing; [10,20]: 50% + 5 us of the second,
  // 0.25 MB / (100 GB/s * 10 us) = 25%, so 75%; [20,30] the same; [30,40] nothing.
  Timeline t;
  t.link_capacity = {{"pcie", 100e9}};
  t.link_traffic = {{"pcie", 10e-6, 30e-6, 1e6}, {"pcie", 15e-6, 25e-6, 0.5e6}, {"nvlink", 0, 40e-6, 1e9}};
  const std::vector<double> u = link_utilisation(t, "pcie", 0, 40e-6, 4);
  REQUIRE(u.size() == 4);
  CHECK(u[0] == Approx(0).margin(1e-12));
  CHECK(u[1] == Approx(0.75).epsilon(1e-9));
  CHECK(u[2] == Approx(0.75).epsilon(1e-9));
  CHECK(u[3] == Approx(0).margin(1e-12));
  // One bin over [0, 40] us: 1.5 MB / (100 GB/s * 40 us) = 37.5%.
  CHECK(link_utilisation(t, "pcie", 0, 40e-6, 1)[0] == Approx(0.375).epsilon(1e-9));
  // A class without capacity draws nothing.
  CHECK(link_utilisation(t, "nvlink", 0, 40e-6, 2) == std::vector<double>{0, 0});
  CHECK(busy_link_classes(t) == std::vector<std::string>{"nvlink", "pcie"});
}

TEST_CASE("step strips: the share of each bin per class", "[quick][report]")
{
  // Rank 0 in 10 us bins over the 45 us step: [0,10] compute; [10,20] host 2 us + compute 8 us;
  // [20,30] compute; [30,40] peers 4 us + communication 6 us; [40,45] (5 us long) compute.
  const Timeline t = two_ranks();
  const auto s = bin_shares(t, {0, 0}, 10e-6, 5);
  REQUIRE(s.size() == 5);
  const int compute = static_cast<int>(StepShare::compute), comm = static_cast<int>(StepShare::communication),
            host = static_cast<int>(StepShare::host_wait), peers = static_cast<int>(StepShare::peer_wait),
            idle = static_cast<int>(StepShare::idle);
  CHECK(s[0][compute] == Approx(1).epsilon(1e-9));
  CHECK(s[1][host] == Approx(0.2).epsilon(1e-9));
  CHECK(s[1][compute] == Approx(0.8).epsilon(1e-9));
  CHECK(s[2][compute] == Approx(1).epsilon(1e-9));
  CHECK(s[3][peers] == Approx(0.4).epsilon(1e-9));
  CHECK(s[3][comm] == Approx(0.6).epsilon(1e-9));
  CHECK(s[4][compute] == Approx(1).epsilon(1e-9));
  for (const auto& b : s)
    CHECK(b[idle] == Approx(0).margin(1e-9));
}

TEST_CASE("memory: stacked bars to scale against the usable capacity", "[quick][report]")
{
  // The study has no plan "x", so the busiest GPU of the result is drawn: weights 40 GiB, KV 10 GiB,
  // activations 2 GiB. Usable 72 GiB at 90% of the GPU's 80 GiB; the scale puts 80 GiB at 540 px:
  // weights x 100, width 270.0; KV x 370.0, width 67.5; activations x 437.5, width 13.5; the usable
  // line at 100 + 72 / 80 * 540 = 586.0.
  const double gib = 1073741824.0;
  Study st;
  st.gpu_memory_utilization = 0.9;
  ScenarioResult r;
  r.plan = "x";
  r.gpus = 4;
  r.memory = {40 * gib, 10 * gib, 2 * gib};
  r.memory_capacity = 72 * gib;
  const std::string s = svg_memory(st, {&r});
  const std::vector<Rect> rs = rects(s);
  REQUIRE(rs.size() == 3);
  CHECK(rs[0].x == 100.0);
  CHECK(rs[0].w == 270.0);
  CHECK(rs[1].x == 370.0);
  CHECK(rs[1].w == 67.5);
  CHECK(rs[2].x == 437.5);
  CHECK(rs[2].w == 13.5);
  CHECK_THAT(rs[1].title, Contains("KV cache 10.0 GiB (total 52.0 GiB)"));
  CHECK_THAT(s, Contains("<line x1=\"586.0\"") && Contains("GPU 52.0 GiB of 72.0 GiB usable"));
}

TEST_CASE("lesson: the TP and EP plans to contrast, and collectives in words", "[quick][report]")
{
  Study st;
  for (const char* p : {"pp4", "tp2xep2", "ep4", "tp4"})
    st.plans.push_back(Plan::parse(p));
  const TpEpPair pair = find_tp_ep_pair(st);
  CHECK(pair.tp == "tp4");
  CHECK(pair.ep == "ep4");
  st.plans = {Plan::parse("tp2xep2"), Plan::parse("tp2xpp2")};
  CHECK(find_tp_ep_pair(st).tp.empty());
  CHECK(inventory_text({{"all_reduce", 2}}) == "2 all-reduces");
  CHECK(inventory_text({{"all_gather", 1}, {"all_to_all", 3}, {"host_sync", 1}}) ==
        "1 all-gather, 3 all-to-alls and 1 host sync");
  // Rank 0 of the hand-made timeline runs one all-reduce in layer 1.
  const auto inv = comm_inventory(two_ranks(), 0, 1, 0);
  REQUIRE(inv.size() == 1);
  CHECK(inv[0] == std::pair<std::string, int>{"all_reduce", 1});
}

TEST_CASE("html: one page, every picture inline, nothing fetched, the same bytes twice", "[quick][report]")
{
  Study st;
  st.name = "small";
  st.plans = {Plan::parse("tp2")};
  ScenarioResult a, b;
  a.plan = "tp2";
  a.platform = "p<1>";
  a.gpus = 2;
  a.batch = 1;
  a.step_time = 45e-6;
  a.mean = {33e-6, 6e-6, 2e-6, 4e-6};
  a.link_bytes = {{"pcie", 28672}};
  b = a;
  b.plan = "tp2x";
  b.refused = true;
  b.refusal = "does not fit";
  Timeline t = two_ranks();
  t.link_capacity = {{"pcie", 100e9}};
  t.link_traffic = {{"pcie", 34e-6, 40e-6, 28672}};
  const std::string h = render_html(st, {a, b}, {&t, nullptr});
  CHECK(h.rfind("<!DOCTYPE html>", 0) == 0);
  // One Gantt for the scenario that ran, none for the refused one; legends and axes.
  size_t gantts = 0;
  for (size_t at = h.find("<svg class=\"gantt\""); at != std::string::npos; at = h.find("<svg class=\"gantt\"", at + 1))
    gantts++;
  CHECK(gantts == 1);
  CHECK_THAT(h, Contains("<svg class=\"legend\"") && Contains("class=\"axis\"") && Contains("<svg class=\"steps\"") &&
                    Contains("<svg class=\"memory\"") && Contains("<svg class=\"bytes\"") &&
                    Contains("refused: does not fit") && Contains("p&lt;1&gt;") && Contains("<script>"));
  // Self-contained: no address to fetch, no external style or script.
  for (const char* s : {"http:", "https:", "src=", "<link", "url(", "@import"})
    CHECK(h.find(s) == std::string::npos);
  CHECK(render_html(st, {a, b}, {&t, nullptr}) == h);
}

TEST_CASE("html: a sweep's page holds its chart as given and its text escaped", "[quick][report]")
{
  Study st;
  st.name = "s";
  const std::string chart = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"></svg>";
  const std::string h = render_sweep_html(st, "tp4 never overtakes <ep4>\n", chart);
  CHECK_THAT(h, Contains(chart) && Contains("tp4 never overtakes &lt;ep4&gt;"));
}

namespace {

ScenarioResult scenario(const std::string& plan, double step_us, Breakdown mean_us, int collectives)
{
  ScenarioResult r;
  r.plan = plan;
  r.platform = "box";
  r.gpus = 2;
  r.batch = 1;
  r.step_time = step_us * 1e-6;
  r.tok_s_user = 1 / r.step_time;
  r.mean = {mean_us.compute * 1e-6, mean_us.comm * 1e-6, mean_us.host * 1e-6, mean_us.idle * 1e-6};
  r.collectives = collectives;
  return r;
}

} // namespace

TEST_CASE("lesson: each claim only where the numbers hold it", "[quick][report]")
{
  Study st;
  st.plans = {Plan::parse("tp2"), Plan::parse("ep2")};
  Timeline t = two_ranks();
  // 6 kB on 100 GB/s of PCIe over the 30 us layer: 6e3 / (100e9 * 30e-6) = 0.2% busy, under the 20%
  // below which the links are "not what limits".
  t.link_capacity = {{"pcie", 100e9}};
  t.link_traffic = {{"pcie", 34e-6, 40e-6, 6e3}};
  SECTION("EP behind by exposed communication: more calls, each about as costly")
  {
    // tp2: 1 call, 6 us exposed; ep2: 3 calls, 21 us: 6 and 7 us per call, within 25%.
    const std::string h = lesson_html(st, {scenario("tp2", 45, {33, 6, 2, 4}, 1), scenario("ep2", 60, {33, 21, 2, 4}, 3)},
                                      {&t, &t});
    CHECK_THAT(h, Contains("ep2 is 1.33x slower") && Contains("What costs is the number of calls") &&
                      Contains("The links are not what limits them") && Contains("To take away"));
    CHECK(h.find("waiting for peers") == std::string::npos);
  }
  SECTION("EP behind by waiting for peers: the imbalance, not the calls")
  {
    ScenarioResult ep = scenario("ep2", 60, {33, 6, 2, 19}, 1);
    ep.expert_imbalance = 1.5;
    const std::string h = lesson_html(st, {scenario("tp2", 45, {33, 6, 2, 4}, 1), ep}, {&t, &t});
    CHECK_THAT(h, Contains("Most of the difference is waiting for peers") && Contains("1.50x the mean time"));
    CHECK(h.find("What costs") == std::string::npos);
    CHECK(h.find("To take away") == std::string::npos);
  }
  SECTION("EP ahead: no explanation of a loss")
  {
    const std::string h = lesson_html(st, {scenario("tp2", 60, {48, 6, 2, 4}, 1), scenario("ep2", 45, {33, 6, 2, 4}, 1)},
                                      {&t, &t});
    CHECK_THAT(h, Contains("ep2 is 1.33x faster") && Contains("15 us less in compute"));
    CHECK(h.find("Why.") == std::string::npos);
    CHECK(h.find("To take away") == std::string::npos);
  }
}
