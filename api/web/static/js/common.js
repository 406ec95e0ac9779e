/* Shared by every page: the page's data block, strings, number format, JSON requests. */
(function () {
  "use strict";

  var page = JSON.parse(document.getElementById("page-data").textContent);
  var numberFormat = new Intl.NumberFormat(page.lang === "es" ? "es-US" : "en-US");

  /* A page string with its {placeholders} filled in. */
  function t(key, values) {
    var text = Object.prototype.hasOwnProperty.call(page.strings, key) ? page.strings[key] : "";
    Object.keys(values || {}).forEach(function (name) {
      text = text.split("{" + name + "}").join(String(values[name]));
    });
    return text;
  }

  /* A link that keeps the language the visitor chose with the switch. */
  function withLang(path) {
    if (!page.langParam) {
      return path;
    }
    return path + (path.indexOf("?") >= 0 ? "&" : "?") + "lang=" + encodeURIComponent(page.lang);
  }

  /* POST JSON; resolves with {status, body} for any HTTP answer, rejects on network failure
     or after `timeoutMs` without an answer. */
  async function postJson(url, payload, headers, timeoutMs) {
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, timeoutMs || 15000);
    try {
      var response = await fetch(url, {
        method: "POST",
        headers: Object.assign(
          { "Content-Type": "application/json", Accept: "application/json" },
          headers || {}
        ),
        body: JSON.stringify(payload),
        credentials: "same-origin",
        signal: controller.signal,
      });
      var body = null;
      try {
        body = await response.json();
      } catch (error) {
        body = null;
      }
      return { status: response.status, body: body, headers: response.headers };
    } finally {
      clearTimeout(timer);
    }
  }

  window.Advocacy = {
    page: page,
    t: t,
    formatNumber: function (value) { return numberFormat.format(value); },
    withLang: withLang,
    postJson: postJson,
  };
})();
