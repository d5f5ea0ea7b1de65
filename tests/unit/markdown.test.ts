import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { renderSafeMarkdown, safeHttpUrl } from "@/components/safe-markdown";

const html = (source: string | null | undefined) =>
  renderToStaticMarkup(createElement("div", null, ...renderSafeMarkdown(source)));

describe("renderSafeMarkdown: markup in the source stays text", () => {
  it("script tags", () => {
    const out = html(`Hello <script>alert("x")</script> world`);
    expect(out).not.toContain("<script");
    expect(out).toBe("<div><p>Hello &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; world</p></div>");
  });

  it("img with onerror", () => {
    const out = html(`<img src=x onerror="alert(1)">`);
    expect(out).not.toContain("<img");
    expect(out).toBe("<div><p>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</p></div>");
  });

  it("javascript:, data: and relative links are not links", () => {
    for (const url of ["javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,<b>x</b>", "/relative", "//evil.example", "vbscript:x"]) {
      const out = html(`[click](${url})`);
      expect(out, url).not.toContain("<a");
      expect(out, url).not.toMatch(/href/i);
      expect(out, url).toContain("[click](");
    }
  });

  it("a link whose text tries to break out of the attribute", () => {
    const out = html(`[x](https://example.org/"onmouseover="alert(1))`);
    expect(out).not.toContain("<a");
    expect(out).not.toContain('"onmouseover');
  });

  it("HTML entities are shown as typed", () => {
    expect(html("&lt;b&gt; &amp; &#60;script&#62; &quot;")).toBe(
      "<div><p>&amp;lt;b&amp;gt; &amp;amp; &amp;#60;script&amp;#62; &amp;quot;</p></div>",
    );
  });

  it("markup inside bold, italic, code and link text stays text", () => {
    const out = html("**<b>x</b>** *<i>y</i>* `<script>` [<img src=x>](https://example.org)");
    expect(out).not.toMatch(/<(b|i|script|img)[\s>]/);
    expect(out).toContain("<strong>&lt;b&gt;x&lt;/b&gt;</strong>");
    expect(out).toContain("<code>&lt;script&gt;</code>");
    expect(out).toContain(">&lt;img src=x&gt;</a>");
  });
});

describe("renderSafeMarkdown: the supported subset", () => {
  it("paragraphs and line breaks", () => {
    expect(html("one\ntwo\n\nthree\r\n\r\nfour")).toBe("<div><p>one<br/>two</p><p>three</p><p>four</p></div>");
  });

  it("bold, italic and code", () => {
    expect(html("a **bold** and *italic* and `x * y` here")).toBe(
      "<div><p>a <strong>bold</strong> and <em>italic</em> and <code>x * y</code> here</p></div>",
    );
    expect(html("**bold with *italic* inside**")).toBe("<div><p><strong>bold with <em>italic</em> inside</strong></p></div>");
  });

  it("http(s) links open in a new tab without opener", () => {
    const out = html("See [the **policy**](https://example.org/policy?a=1&b=2) now");
    expect(out).toBe(
      '<div><p>See <a href="https://example.org/policy?a=1&amp;b=2" target="_blank" rel="noopener noreferrer" class="underline underline-offset-2">the <strong>policy</strong></a> now</p></div>',
    );
    expect(html("[x](http://example.org)")).toContain('href="http://example.org/"');
  });

  it("unmatched markers and escapes stay literal", () => {
    expect(html("2 * 3 = 6, a ** b, `open, [x] (y)")).toBe("<div><p>2 * 3 = 6, a ** b, `open, [x] (y)</p></div>");
    expect(html("\\*not italic\\*")).toBe("<div><p>*not italic*</p></div>");
  });

  it("empty input renders nothing", () => {
    expect(html("")).toBe("<div></div>");
    expect(html(null)).toBe("<div></div>");
    expect(html(" \n\n ")).toBe("<div></div>");
  });

  it("deep nesting and long input stay cheap", () => {
    const start = Date.now();
    html("*".repeat(20_000));
    html("*a".repeat(10_000));
    html("[".repeat(20_000));
    html("`".repeat(20_000));
    html("**a ".repeat(5000));
    html("[a](".repeat(5000));
    expect(Date.now() - start).toBeLessThan(3000); // ~0.3 s here: parsing is linear
  });
});

describe("safeHttpUrl", () => {
  it("accepts only absolute http(s) URLs", () => {
    expect(safeHttpUrl("https://example.org/a b")).toBeNull();
    expect(safeHttpUrl(" https://example.org ")).toBe("https://example.org/");
    expect(safeHttpUrl("ftp://example.org")).toBeNull();
    expect(safeHttpUrl("https://")).toBeNull();
  });
});
