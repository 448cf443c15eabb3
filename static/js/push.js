// Offer web push on the phone after an approval: register the service worker and send the subscription.
import { postJSON } from "./webauthn.js";

const offer = document.getElementById("push-offer");
const status = document.getElementById("push-status");

function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(base64url.length / 4) * 4, "=");
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

async function subscribe() {
  try {
    const registration = await navigator.serviceWorker.register(offer.dataset.worker, { scope: "/" });
    const subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: keyBytes(offer.dataset.key),
    });
    const result = await postJSON(offer.dataset.url, subscription.toJSON());
    status.textContent = result.ok ? "Notifications are on for this phone." : result.data.message;
  } catch (e) {
    status.textContent = "Notifications could not be turned on in this browser.";
  }
}

if ("serviceWorker" in navigator && "PushManager" in window) {
  offer.hidden = false;
  document.getElementById("push-button").addEventListener("click", subscribe);
}
