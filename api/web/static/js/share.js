/* The share actions: the device's own share sheet (Web Share API) where there is one, and a
   copy button where the clipboard can be written. Without them the plain links remain. */
(function () {
  "use strict";

  var A = window.Advocacy;
  var shareButton = document.getElementById("web-share");
  if (shareButton && typeof navigator.share === "function") {
    shareButton.closest("li").hidden = false;
    shareButton.addEventListener("click", function () {
      navigator.share({
        title: shareButton.dataset.title,
        text: shareButton.dataset.text,
        url: shareButton.dataset.url,
      }).catch(function () { /* the visitor closed the sheet */ });
    });
  }

  var copyButton = document.getElementById("copy-link");
  var input = document.getElementById("share-url");
  var status = document.getElementById("copy-status");
  if (copyButton && input && navigator.clipboard && window.isSecureContext) {
    copyButton.hidden = false;
    copyButton.addEventListener("click", function () {
      navigator.clipboard.writeText(input.value).then(
        function () { status.textContent = A.t("share_copied"); },
        function () {
          input.select();
          status.textContent = A.t("share_copy_failed");
        }
      );
    });
  }
})();
