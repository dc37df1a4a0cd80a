// The auction page's live view, served as a file: the console's Content-Security-Policy runs no inline
// script.
// Poll the live state every 3 s: an ascending auction's best price and its extended close change
// with every bid; when bidding ends, reload to show the close and the result.
(function () {
  var box = document.getElementById("live");
  if (!box) { return; }
  function set(id, text) { var el = document.getElementById(id); if (el && text !== null) { el.textContent = text; } }
  function poll() {
    fetch(box.dataset.url, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s) { return; }
        set("live-close", s.closes_at); set("live-standing", s.standing); set("live-next", s.next);
        if (s.bids !== null) { set("live-bids", String(s.bids)); }
        if (s.status !== box.dataset.status) { window.location.reload(); }
      })
      .catch(function () {});
  }
  setInterval(poll, 3000);
})();
