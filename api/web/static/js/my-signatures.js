/* A signer's own signatures (/my-signatures), through the public API only.

   Without a token: a form that asks `POST /v1/signatures/access` to mail a link; the answer is
   the same whether or not the address signed, and so is what the page says.
   With the emailed link's token: lists the signatures (`POST /v1/signatures/mine`) and
   withdraws one (`POST /v1/signatures/mine/withdraw`) after a confirm step. The token is read
   from the address bar and sent only in POST bodies: never in another URL, never stored.
   Opening the link changes nothing (mail scanners open links). */
(function () {
  "use strict";

  var A = window.Advocacy;
  var page = A.page;
  var t = A.t;

  function byId(id) {
    return document.getElementById(id);
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  /* --- without a token: ask for a link ------------------------------------------------- */

  function requestPage() {
    var form = byId("access-form");
    if (!form) {
      return;
    }
    var fieldset = byId("access-fields");
    var input = byId("email");
    var error = byId("email-error");
    var submit = byId("access-submit");
    var status = byId("access-status");
    var done = byId("access-done");
    var doneText = byId("access-done-text");
    var inFlight = false;

    fieldset.disabled = false;

    function setStatus(message, isError) {
      status.textContent = message;
      status.classList.toggle("is-error", Boolean(isError));
    }

    function clearError() {
      error.hidden = true;
      error.textContent = "";
      input.removeAttribute("aria-invalid");
      input.setAttribute("aria-describedby", "email-hint");
      setStatus("", false);
    }

    function showError(message) {
      error.textContent = message;
      error.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", "email-error email-hint");
      input.focus();
    }

    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (inFlight) {
        return;
      }
      clearError();
      var email = input.value.trim();
      if (!email) {
        showError(t("err_email_missing"));
        return;
      }
      if (input.validity.typeMismatch || email.indexOf("@") < 1) {
        showError(t("err_email_invalid"));
        return;
      }
      inFlight = true;
      submit.disabled = true;
      form.setAttribute("aria-busy", "true");
      setStatus(t("mine_request_sending"), false);
      var result = null;
      try {
        result = await A.postJson(page.accessUrl, { email: email, locale: page.lang });
      } catch (networkError) {
        result = null;
      }
      inFlight = false;
      submit.disabled = false;
      form.removeAttribute("aria-busy");

      if (result === null) {
        setStatus(t("request_failed"), true);
        submit.focus();
        return;
      }
      if (result.status === 202) {
        // Whatever the address: the API never says whether it signed, nor does the page.
        form.hidden = true;
        setStatus("", false);
        doneText.textContent = t("mine_request_done_text", { email: email });
        done.hidden = false;
        done.focus();
        return;
      }
      if (result.status === 422) {
        showError(t("err_email_invalid"));
        return;
      }
      setStatus(t(result.status === 429 ? "rate_limited" : "server_error"), true);
      submit.focus();
    });
  }

  /* --- with the emailed link's token: list and withdraw --------------------------------- */

  function listPage(token) {
    var status = byId("mine-status");
    var retry = byId("mine-retry");
    var newLink = byId("mine-new-link");
    var intro = byId("mine-intro");
    var list = byId("mine-list");
    var empty = byId("mine-empty");
    var dateFormat = new Intl.DateTimeFormat(page.lang === "es" ? "es-US" : "en-US", {
      dateStyle: "long",
    });
    var STATUS_TEXT = {
      confirmed: t("mine_status_confirmed"),
      pending: t("mine_status_pending"),
    };

    /* The one live region: what is happening, what happened. */
    function show(message, kind, focus) {
      status.textContent = message;
      status.classList.toggle("is-error", kind === "error");
      status.classList.toggle("is-done", kind === "done");
      status.dataset.outcome = kind || "";
      if (focus) {
        status.focus();
      }
    }

    function showList(count) {
      list.hidden = count === 0;
      intro.hidden = count === 0;
      empty.hidden = count > 0;
    }

    function linkIsDead(message) {
      list.hidden = true;
      intro.hidden = true;
      newLink.hidden = false;
      show(message, "error", true);
    }

    function formatDate(value) {
      var date = new Date(value);
      return isNaN(date.getTime()) ? "" : dateFormat.format(date);
    }

    function item(signature, index) {
      var slug = signature.petition_slug;
      var title = signature.petition_title;
      var titleId = "mine-title-" + index;
      var questionId = "mine-question-" + index;
      var li = element("li", "mine-item");
      li.dataset.slug = slug;

      var heading = element("h2", "mine-item-title");
      heading.id = titleId;
      heading.lang = "en"; // petitions are written in English
      var link = element("a", "", title);
      link.href = A.withLang("/petitions/" + encodeURIComponent(slug));
      heading.appendChild(link);
      li.appendChild(heading);

      var state = signature.status === "confirmed" ? "confirmed" : "pending";
      li.appendChild(element("p", "mine-item-status mine-item-status-" + state, STATUS_TEXT[state]));
      var when = formatDate(signature.signed_at);
      if (when) {
        li.appendChild(element("p", "mine-item-date", t("mine_signed_on", { date: when })));
      }

      // "Withdraw" names the petition through its description, so each button is unambiguous.
      var withdraw = element("button", "button", t("mine_withdraw"));
      withdraw.type = "button";
      withdraw.setAttribute("aria-describedby", titleId);

      // The confirm step: a question and two buttons, shown in place of "Withdraw".
      var ask = element("div", "mine-confirm");
      ask.hidden = true;
      ask.setAttribute("role", "group");
      ask.setAttribute("aria-labelledby", questionId);
      var question = element("p", "", t("mine_confirm_question", { title: title }));
      question.id = questionId;
      var buttons = element("div", "button-row");
      var yes = element("button", "button button-danger", t("mine_confirm_yes"));
      yes.type = "button";
      yes.setAttribute("aria-describedby", questionId);
      var no = element("button", "button", t("mine_confirm_no"));
      no.type = "button";
      buttons.appendChild(yes);
      buttons.appendChild(no);
      ask.appendChild(question);
      ask.appendChild(buttons);
      li.appendChild(withdraw);
      li.appendChild(ask);

      function openAsk() {
        withdraw.hidden = true;
        ask.hidden = false;
        yes.focus();
      }

      function closeAsk() {
        ask.hidden = true;
        withdraw.hidden = false;
        withdraw.focus();
      }

      withdraw.addEventListener("click", openAsk);
      no.addEventListener("click", closeAsk);
      ask.addEventListener("keydown", function (event) {
        if (event.key === "Escape" && !yes.disabled) {
          closeAsk();
        }
      });
      yes.addEventListener("click", async function () {
        yes.disabled = true;
        no.disabled = true;
        li.setAttribute("aria-busy", "true");
        show(t("withdraw_working"), "", false);
        var result = null;
        try {
          result = await A.postJson(page.withdrawUrl, { token: token, petition_slug: slug });
        } catch (networkError) {
          result = null;
        }
        li.removeAttribute("aria-busy");
        yes.disabled = false;
        no.disabled = false;
        var body = (result && result.body) || {};
        if (result && result.status === 200 &&
            (body.status === "withdrawn" || body.status === "already_withdrawn")) {
          li.remove();
          showList(list.children.length);
          var key = body.status === "withdrawn" ? "mine_withdrawn" : "mine_already";
          show(t(key, { title: title }), "done", true);
          return;
        }
        if (result && result.status === 410) {
          linkIsDead(t("mine_link_expired"));
          return;
        }
        if (result === null) {
          show(t("request_failed"), "error", false);
        } else if (result.status === 429) {
          show(t("rate_limited"), "error", false);
        } else if (result.status === 404) {
          show(t("mine_withdraw_failed"), "error", false);
        } else {
          show(t("server_error"), "error", false);
        }
        yes.focus(); // still asking: the same button tries again
      });
      return li;
    }

    function render(signatures) {
      list.textContent = "";
      signatures.forEach(function (signature, index) {
        list.appendChild(item(signature, index));
      });
      showList(signatures.length);
      var n = signatures.length;
      var key = n === 0 ? "mine_loaded_none" : n === 1 ? "mine_loaded_one" : "mine_loaded";
      show(t(key, { n: A.formatNumber(n) }), "", false);
    }

    async function load() {
      retry.hidden = true;
      show(t("mine_loading"), "", false);
      var result;
      try {
        result = await A.postJson(page.mineUrl, { token: token });
      } catch (networkError) {
        show(t("request_failed"), "error", false);
        retry.hidden = false;
        retry.focus();
        return;
      }
      var body = result.body || {};
      if (result.status === 200 && Array.isArray(body.signatures)) {
        render(body.signatures);
      } else if (result.status === 410) {
        linkIsDead(t("mine_link_expired"));
      } else if (result.status === 404 || result.status === 422) {
        linkIsDead(t("link_unknown"));
      } else {
        show(t(result.status === 429 ? "rate_limited" : "server_error"), "error", true);
        retry.hidden = false;
      }
    }

    retry.addEventListener("click", load);
    load();
  }

  var token = new URLSearchParams(window.location.search).get("token");
  if (page.hasToken && token) {
    listPage(token);
  } else {
    requestPage();
  }
})();
