// tokenkeep admin page: dialogs, the copy button, scope pickers. No dependencies.
(function () {
  "use strict";

  function all(selector, root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(selector));
  }

  // A dialog the server rendered open is reopened as a modal. Its close() queues a "close"
  // event that arrives when it is open again, so close handlers ignore an open dialog.
  function showModal(dialog) {
    if (dialog.open) dialog.close();
    dialog.showModal();
  }

  // A picker: a scope on its own grants every action, so its actions show checked and locked.
  function syncPicker(picker) {
    all("[data-scope-main]", picker).forEach(function (main) {
      all('[data-scope-of="' + main.value + '"]', picker).forEach(function (action) {
        if (main.checked) {
          action.checked = true;
          action.disabled = true;
        } else if (action.disabled) {
          action.disabled = false;
          action.checked = false;
        }
      });
    });
  }

  function syncExpiry(select) {
    var date = select.form && select.form.querySelector("[data-expiry-date]");
    if (!date) return;
    date.hidden = select.value !== "custom";
    date.required = select.value === "custom";
  }

  function copySecret(button) {
    var input = document.getElementById(button.getAttribute("data-copy"));
    var label = button.querySelector("[data-copy-label]") || button;
    function done(ok) {
      label.textContent = ok ? "Copied" : "Press Ctrl+C";
      window.setTimeout(function () { label.textContent = "Copy"; }, 2000);
    }
    function fallback() {
      input.focus();
      input.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      done(ok);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(function () { done(true); }, fallback);
    } else {
      fallback();
    }
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    var opener = target.closest("[data-open]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-open"));
      if (dialog) {
        event.preventDefault();
        showModal(dialog);
      }
      return;
    }
    var closer = target.closest("[data-close]");
    if (closer) {
      event.preventDefault();
      closer.closest("dialog").close();
      return;
    }
    var copy = target.closest("[data-copy]");
    if (copy) {
      event.preventDefault();
      copySecret(copy);
    }
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-scope-main]")) syncPicker(target.closest("[data-scope-picker]"));
    if (target.matches("[data-expiry]")) syncExpiry(target);
  });

  function init() {
    all("[data-scope-picker]").forEach(syncPicker);
    all("[data-expiry]").forEach(syncExpiry);

    // Closing a form dialog throws away what was typed (the server's values come back).
    all("dialog form").forEach(function (form) {
      var dialog = form.closest("dialog");
      dialog.addEventListener("close", function () {
        if (dialog.open || dialog.hasAttribute("data-autoshow")) return;
        form.reset();
        all("[data-scope-picker]", form).forEach(syncPicker);
        all("[data-expiry]", form).forEach(syncExpiry);
      });
    });

    all("dialog[data-autoshow]").forEach(function (dialog) {
      showModal(dialog);
      var leaveTo = dialog.getAttribute("data-leave-to");
      if (leaveTo) {
        // The secret leaves the page with the dialog; the list comes back by GET, so a
        // reload never resends the form.
        dialog.addEventListener("close", function () {
          if (dialog.open) return;
          all("[data-secret]", dialog).forEach(function (input) { input.value = ""; });
          window.location.replace(leaveTo);
        });
      } else {
        dialog.addEventListener("close", function () {
          if (!dialog.open) dialog.removeAttribute("data-autoshow");
        });
      }
    });

    // A Close link also closes the dialog (which then leaves the page) instead of a plain navigation.
    all("[data-leave]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var dialog = link.closest("dialog");
        if (dialog && dialog.open) {
          event.preventDefault();
          dialog.close();
        }
      });
    });

    var secret = document.querySelector("[data-secret]");
    if (secret) {
      secret.addEventListener("focus", function () { secret.select(); });
      secret.focus();
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
