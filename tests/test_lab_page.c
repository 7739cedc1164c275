/*
 * test_lab_page.c - the lab's page (src/lab/page.c) on made-up demos whose
 * every text holds HTML's special characters: all of it escaped (in the
 * page and inside its script), a NULL claim or look_for leaving its
 * paragraph out, pictures referenced relatively (or a line saying how to
 * draw a missing one), GIF animations shown, a replay for a paths file, a
 * demo that did not run with its reason, and the page naming no address
 * outside its folder. The real demos' page is tested in a browser by
 * tests/cli/demo_page.sh.
 */
#include "check.h"
#include "lab/lab.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static int count_of(const char *text, const char *needle) {
  int n = 0;
  for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
  return n;
}

static void write_file(const char *dir, const char *name, const char *text) {
  char path[700];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  CHECK_MSG(f != NULL, "cannot write %s", path);
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

static char *read_all(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  if (buf) buf[n] = '\0';
  fclose(f);
  return buf;
}

static int run_nothing(const lab_args *a, const char *dir, lab_result *r) {
  (void)a, (void)dir, (void)r;
  return DESCENT_OK;
}

static void test_page(void) {
  const char *tmp = getenv("DESCENT_TEST_TMP");
  char dir[512], sub[600];
  snprintf(dir, sizeof dir, "%s/test_lab_page", tmp ? tmp : "/tmp");
  snprintf(sub, sizeof sub, "%s/made-up", dir);
  mkdir(tmp ? tmp : "/tmp", 0777);
  mkdir(dir, 0777);
  mkdir(sub, 0777);

  const lab_demo ran = {.name = "made-up",
                        .slides = "slide 1 <&>",
                        .summary = "a summary with <i>tags</i> & ampersands",
                        .run = run_nothing,
                        .claim = "the claim: alpha L < 2 & \"quoted\" 'text'",
                        .look_for = NULL,
                        .duration = NULL};
  const lab_demo skipped = {.name = "slow",
                            .slides = "slide 2",
                            .summary = "trains for long",
                            .run = run_nothing,
                            .claim = NULL,
                            .look_for = "look for <this> & that",
                            .duration = "about 3 minutes"};
  lab_result r;
  memset(&r, 0, sizeof r);
  lab_table *t = lab_result_table(&r, "made-up", "a title with <b>", "run|x < y|z");
  CHECK(t != NULL);
  if (!t) return;
  int row = lab_table_row(t, "row <1> & co");
  lab_table_num(t, row, "x < y", 0.125);
  lab_table_text(t, row, "z", "never (> 10)");
  lab_result_note(&r, "a note: 1 < 2 & 3 > 2");
  snprintf(r.pictures[r.n_pictures++], LAB_TEXT, "drawn");
  snprintf(r.pictures[r.n_pictures++], LAB_TEXT, "missing");
  write_file(sub, "drawn.png", "not really a PNG");
  write_file(sub, "drawn.svg", "<svg></svg>");
  write_file(sub, "drawn.gp", "# script\n");
  write_file(sub, "made-up-paths.csv",
             "run,method,t,x,y,f,gap\n"
             "0,gd </script><script>alert(1)</script>,0,1,2,5,5\n"
             "0,gd </script><script>alert(1)</script>,1,0.5,1,1.25,1.25\n"
             "1,adam,0,1,2,5,5\n");
  write_file(sub, "made-up-contours.csv", "x,y,level\n0,0,1\n1,1,1\n\n1,0,1\n0,1,1\n");
  write_file(sub, "made-up-race.gif", "GIF89a");
  static const char *const files[] = {"made-up-paths.csv", "made-up-contours.csv",
                                      "made-up-race.gif", "drawn.gp"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    snprintf(r.files[r.n_files++], LAB_TEXT, "%s", files[i]);
  /* Two recorded animations: one drawn (its GIF in the folder), one not
     (no --gif): shown, and a hint saying how to draw it. */
  write_file(sub, "made-up-anim.gif", "GIF89a");
  snprintf(r.animations[r.n_animations++], LAB_TEXT, "made-up-anim");
  snprintf(r.animations[r.n_animations++], LAB_TEXT, "undrawn");

  lab_page_demo demos[2] = {{.demo = &ran,
                             .folder = "made-up",
                             .command = "descent demo made-up --x '<1>'",
                             .result = &r},
                            {.demo = &skipped,
                             .folder = "slow",
                             .command = "descent demo slow",
                             .skipped = "skipped: takes <about 3 minutes>"}};
  const char *notes[] = {"page note <1> & 2"};
  CHECK_OK(lab_page_write(dir, "A title <&>", demos, 2, notes, 1));
  char path[700];
  snprintf(path, sizeof path, "%s/index.html", dir);
  char *page = read_all(path);
  CHECK_MSG(page != NULL, "no %s", path);
  if (!page) {
    lab_result_free(&r);
    return;
  }

  /* Every text escaped, none raw. */
  static const char *const escaped[] = {
      "<title>A title &lt;&amp;&gt;</title>",
      "page note &lt;1&gt; &amp; 2",
      "slide 1 &lt;&amp;&gt;",
      "a summary with &lt;i&gt;tags&lt;/i&gt; &amp; ampersands",
      "the claim: alpha L &lt; 2 &amp; &quot;quoted&quot; &#39;text&#39;",
      "descent demo made-up --x &#39;&lt;1&gt;&#39;",
      "a title with &lt;b&gt;",
      "x &lt; y",
      "row &lt;1&gt; &amp; co",
      "<td>0.125</td>",
      "never (&gt; 10)",
      "a note: 1 &lt; 2 &amp; 3 &gt; 2",
      "look for &lt;this&gt; &amp; that",
      "skipped: takes &lt;about 3 minutes&gt;",
  };
  for (size_t i = 0; i < sizeof escaped / sizeof escaped[0]; i++)
    CHECK_MSG(strstr(page, escaped[i]) != NULL, "the page lacks '%s'", escaped[i]);
  static const char *const raw[] = {
      "<i>tags", "L < 2", "with <b>", "row <1>", "<this>", "alert(1)</script>", "<script>alert"};
  for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++)
    CHECK_MSG(strstr(page, raw[i]) == NULL, "the page holds '%s' unescaped", raw[i]);
  /* Inside the script: '<' as \u003c, so the element cannot end early. */
  CHECK(strstr(page, "gd \\u003c/script\\u003e\\u003cscript\\u003ealert(1)") != NULL);

  /* The claim shown once (the made-up demo's), what to look for once (the
     skipped demo's): a NULL one leaves its paragraph out. */
  CHECK_MSG(count_of(page, "<p class=\"claim\">") == 1, "%d claims",
            count_of(page, "<p class=\"claim\">"));
  CHECK_MSG(count_of(page, "<p class=\"look\">") == 1, "%d look-fors",
            count_of(page, "<p class=\"look\">"));
  CHECK(count_of(page, "<p class=\"skipped\">") == 1);

  /* Pictures relative to the page; the missing one says how to draw it. */
  CHECK(strstr(page, "<img src=\"made-up/drawn.png\"") != NULL);
  CHECK(strstr(page, "<a href=\"made-up/drawn.svg\">") != NULL);
  CHECK(strstr(page, "missing.png was not drawn") != NULL);
  CHECK(strstr(page, "<img src=\"made-up/missing.png\"") == NULL);
  CHECK(strstr(page, "<img src=\"made-up/made-up-race.gif\"") != NULL);
  CHECK(strstr(page, "<img src=\"made-up/made-up-anim.gif\"") != NULL);
  CHECK(strstr(page, "<img src=\"made-up/undrawn.gif\"") == NULL);
  CHECK(strstr(page, "<code>descent demo made-up --gif</code> draws undrawn.gif") != NULL);
  CHECK(count_of(page, "<p class=\"hint\">") == 1);
  /* One replay: two runs over the contours, each run's own backdrop. */
  CHECK(count_of(page, "LAB_REPLAYS.push(") == 1);
  CHECK(count_of(page, "<div class=\"replay\" id=\"replay-0\" hidden>") == 1);
  CHECK(strstr(page, "kind:\"segments\",xy:[0,0,1,1,1,0,0,1]") != NULL);
  CHECK(strstr(page, "name:\"adam\",backdrop:0,t:[0],x:[1],y:[2],f:[5],gap:[5]") != NULL);
  /* A table of contents entry per demo, the skipped one marked. */
  CHECK(strstr(page, "<a href=\"#demo-made-up\">") != NULL);
  CHECK(strstr(page, "<a href=\"#demo-slow\">slow</a> (slide 2) &mdash; not run") != NULL);
  /* Nothing from outside the folder. */
  CHECK(strstr(page, "http") == NULL && strstr(page, "<link") == NULL &&
        strstr(page, "src=\"/") == NULL);
  free(page);
  lab_result_free(&r);
}

/* Files may grow to `bytes` at most; a write past it fails (EFBIG) instead
   of killing the test. Returns the previous limit. */
static struct rlimit limit_file_size(rlim_t bytes) {
  struct rlimit old, now;
  getrlimit(RLIMIT_FSIZE, &old);
  now = old;
  now.rlim_cur = bytes;
  signal(SIGXFSZ, SIG_IGN);
  setrlimit(RLIMIT_FSIZE, &now);
  return old;
}

/* A paths file whose run column does not read as a number (an empty
   field): the page still ends (each run holds at least one row) instead of
   writing the same run forever. The file-size limit turns a runaway page
   into a failed write. */
static void test_page_unreadable_run(void) {
  const char *tmp = getenv("DESCENT_TEST_TMP");
  char dir[512], sub[600];
  snprintf(dir, sizeof dir, "%s/test_lab_page_nan", tmp ? tmp : "/tmp");
  snprintf(sub, sizeof sub, "%s/odd", dir);
  mkdir(dir, 0777);
  mkdir(sub, 0777);
  write_file(sub, "odd-paths.csv", "run,method,t,x,y,f,gap\n,gd,0,1,2,5,5\n,gd,1,nan,inf,1,1\n");
  const lab_demo odd = {.name = "odd", .slides = "slide 1", .summary = "s", .run = run_nothing};
  lab_result r;
  memset(&r, 0, sizeof r);
  snprintf(r.files[r.n_files++], LAB_TEXT, "odd-paths.csv");
  lab_page_demo demos[1] = {{.demo = &odd, .folder = "odd", .command = "c", .result = &r}};
  struct rlimit old = limit_file_size(1 << 20);
  int rc = lab_page_write(dir, "t", demos, 1, NULL, 0);
  setrlimit(RLIMIT_FSIZE, &old);
  CHECK_MSG(rc == DESCENT_OK, "page with an unreadable run: %s", descent_last_error());
  char path[700];
  snprintf(path, sizeof path, "%s/index.html", dir);
  char *page = read_all(path);
  CHECK(page != NULL);
  /* Each row its own run; NaN and inf as null, valid JavaScript. */
  CHECK(page && count_of(page, "{name:\"gd\"") == 2);
  CHECK(page && strstr(page, "x:[null],y:[null]") != NULL);
  free(page);
}

/* A write that fails half-way (here: the file-size limit) leaves an
   existing index.html as it was, and no partial file beside it. */
static void test_page_failed_write(void) {
  const char *tmp = getenv("DESCENT_TEST_TMP");
  char dir[512], path[700], part[720];
  snprintf(dir, sizeof dir, "%s/test_lab_page_full", tmp ? tmp : "/tmp");
  mkdir(dir, 0777);
  write_file(dir, "index.html", "the previous page\n");
  const lab_demo one = {.name = "one", .slides = "slide 1", .summary = "s", .run = run_nothing};
  lab_page_demo demos[1] = {{.demo = &one, .folder = "one", .command = "c", .skipped = "no"}};
  struct rlimit old = limit_file_size(2000); /* the page's style and script alone are longer */
  int rc = lab_page_write(dir, "t", demos, 1, NULL, 0);
  setrlimit(RLIMIT_FSIZE, &old);
  CHECK_MSG(rc != DESCENT_OK, "a page past the file-size limit was written");
  snprintf(path, sizeof path, "%s/index.html", dir);
  snprintf(part, sizeof part, "%s.part", path);
  char *page = read_all(path);
  CHECK_MSG(page && strcmp(page, "the previous page\n") == 0, "index.html was changed: '%.40s'",
            page ? page : "(none)");
  free(page);
  CHECK_MSG(access(part, F_OK) != 0, "%s left behind", part);
}

int main(void) {
  test_page();
  test_page_unreadable_run();
  test_page_failed_write();
  return check_report();
}
