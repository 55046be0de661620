/*
 * Stripe's Payment Element for a SetupIntent (saving a card) or a PaymentIntent (paying by card).
 *
 * Markup: templates/payments/includes/stripe_element.html. Card details go from this element
 * straight to Stripe; our server only ever sees the intent's id. When Stripe.js cannot load
 * (blocked, offline), the form stays hidden and the "pay on pickup" hint stays visible.
 */
(function () {
  "use strict";

  function start(root) {
    var form = root.querySelector("[data-stripe-form]");
    var fallback = root.querySelector("[data-stripe-unavailable]");
    var errorBox = root.querySelector("[data-stripe-error]");
    var button = form.querySelector("button[type=submit]");
    if (typeof window.Stripe !== "function") {
      return;
    }
    var stripe = window.Stripe(root.dataset.publishableKey);
    var elements = stripe.elements({ clientSecret: root.dataset.clientSecret });
    elements.create("payment").mount(root.querySelector("[data-payment-element]"));
    fallback.hidden = true;
    form.hidden = false;

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      errorBox.textContent = "";
      var options = { elements: elements, confirmParams: { return_url: root.dataset.returnUrl } };
      var confirm = root.dataset.mode === "setup" ? stripe.confirmSetup(options) : stripe.confirmPayment(options);
      confirm.then(function (result) {
        // Only reached on an error: on success Stripe.js sends the buyer to return_url.
        if (result && result.error) {
          errorBox.textContent = result.error.message || root.dataset.genericError;
        }
        button.disabled = false;
        button.removeAttribute("aria-busy");
      });
    });
  }

  document.querySelectorAll("[data-stripe-element]").forEach(start);
})();
