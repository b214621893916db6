// Upgrade the storefront's cart forms to calls of the JSON session API.
// Without JavaScript the same forms post to /shop/cart and work as well.
(function () {
  var main = document.querySelector("main[data-session]");
  if (!main || !window.fetch) { return; }
  var token = main.getAttribute("data-session");
  var api = main.getAttribute("data-api");

  function call(method, path, body) {
    return fetch(api + path, {
      method: method,
      headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) { throw new Error(data.error || "The cart could not be changed."); }
        return data;
      });
    });
  }

  function say(form, text, ok) {
    var note = form.querySelector(".flash") || document.createElement("span");
    note.className = "flash " + (ok ? "flash-ok" : "flash-error");
    note.setAttribute("role", "status");
    note.textContent = text;
    form.appendChild(note);
  }

  function updateCount(cart) {
    var badge = document.getElementById("cart-count");
    if (badge) { badge.textContent = cart.items.length; }
  }

  // Sorting applies on choice; without JavaScript the Apply button does it.
  var sort = document.getElementById("sort");
  if (sort) {
    sort.addEventListener("change", function () { sort.form.submit(); });
  }

  document.querySelectorAll("form.add-form").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var sku = form.elements.sku.value;
      call("POST", "/cart/items", { sku: sku, quantity: form.elements.quantity.value })
        .then(function (cart) { updateCount(cart); say(form, "Added to cart", true); })
        .catch(function (err) { say(form, err.message, false); });
    });
  });

  document.querySelectorAll("form.qty-form, form.remove-form").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var sku = form.elements.sku.value;
      var request = form.classList.contains("remove-form")
        ? call("DELETE", "/cart/items/" + encodeURIComponent(sku))
        : call("PUT", "/cart/items/" + encodeURIComponent(sku), { quantity: form.elements.quantity.value });
      request.then(function () { window.location.reload(); })
        .catch(function (err) { say(form, err.message, false); });
    });
  });
})();
