import fs from "node:fs";
import http from "node:http";
const d = JSON.parse(fs.readFileSync("/tmp/lastpost.json", "utf8"));
const u = new URL(d.url);
const headers = { ...d.headers };
// keep accept-encoding
const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: "POST", headers }, (res) => {
  console.log("status", res.statusCode);
  let body = "";
  res.on("data", (c) => { body += c; });
  res.on("end", () => { console.log("END ok, length", body.length); fs.writeFileSync("/tmp/action-body.txt", body); });
  res.on("error", (e) => console.log("res error", e));
  res.on("aborted", () => { console.log("ABORTED, got", body.length); fs.writeFileSync("/tmp/action-body.txt", body); });
  res.on("close", () => console.log("close; complete:", res.complete));
});
req.on("error", (e) => console.log("req error", e));
req.end(d.body);
