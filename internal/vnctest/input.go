package vnctest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Mouse buttons for Click, by their DevTools protocol names.
const (
	ButtonLeft   = "left"
	ButtonMiddle = "middle"
	ButtonRight  = "right"
)

// Click moves the mouse to x, y of noVNC's canvas and clicks button there
// (ButtonLeft, ButtonMiddle or ButtonRight), count times in a row: 2 is a
// double click. noVNC sends the server a PointerEvent (RFC 6143, section
// 7.5.5) for the motion and for each press and release. vnc_lite.html does
// not scale the canvas unless asked to (its scale parameter, which
// NoVNCOptions leaves out), so canvas coordinates are the framebuffer's.
func (v *NoVNC) Click(t testing.TB, x, y int, button string, count int) {
	t.Helper()
	origin := eval[[]float64](t, v, `(() => {
		const c = `+canvasJS+`;
		if (!c) return [];
		const r = c.getBoundingClientRect();
		return [r.left, r.top, c.width, c.height];
	})()`)
	if len(origin) != 4 {
		t.Fatal("noVNC: click: no canvas")
	}
	if x < 0 || y < 0 || x >= int(origin[2]) || y >= int(origin[3]) {
		t.Fatalf("noVNC: click %d,%d: outside the canvas of %vx%v", x, y, origin[2], origin[3])
	}
	px, py := origin[0]+float64(x), origin[1]+float64(y)
	actions := []chromedp.Action[chromedp.Void]{
		dispatchMouse(&input.DispatchMouseEventParams{Type: chromedp.MouseMoved, X: px, Y: py}),
	}
	for i := 1; i <= count; i++ {
		for _, typ := range []input.DispatchMouseEventType{chromedp.MousePressed, chromedp.MouseReleased} {
			actions = append(actions, dispatchMouse(&input.DispatchMouseEventParams{
				Type: typ, X: px, Y: py, Button: input.MouseButton(button), ClickCount: int64(i),
			}))
		}
	}
	v.do(t, fmt.Sprintf("click %s %d times at %d,%d", button, count, x, y), actions...)
}

// dispatchMouse is an action that dispatches the mouse event p.
func dispatchMouse(p *input.DispatchMouseEventParams) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		_, err := cdp.Call(ctx, tgt, input.DispatchMouseEvent, *p)
		return err
	})
}

// Paste gives noVNC text as the local clipboard's, as the clipboard box of
// noVNC's full page does, with RFB.clipboardPasteFrom: noVNC sends it to the
// server as ClientCutText (RFC 6143, section 7.5.6) or, when the server has
// the extended clipboard, announces it and sends it when the server asks for
// it (which Xvnc does when an X client asks for the selection). vnc_lite.html
// keeps its RFB object in a module's scope, so Paste finds it as the one
// object whose prototype is RFB's, with the DevTools protocol's
// Runtime.queryObjects.
func (v *NoVNC) Paste(t testing.TB, text string) {
	t.Helper()
	lit, err := json.Marshal(text) // a JavaScript string literal too
	if err != nil {
		t.Fatal(err)
	}
	v.do(t, fmt.Sprintf("paste %q", text), chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		// The same module as the page's: modules are loaded once per URL.
		proto, err := cdp.Call(ctx, tgt, runtime.Evaluate, runtime.EvaluateParams{
			Expression:   `import('./core/rfb.js').then(m => m.default.prototype)`,
			AwaitPromise: new(true),
		})
		if err := jsError(proto.ExceptionDetails, err); err != nil {
			return fmt.Errorf("RFB's prototype: %w", err)
		}
		if proto.Result == nil || proto.Result.ObjectID == "" {
			return errors.New("RFB's prototype: not an object")
		}
		objs, err := cdp.Call(ctx, tgt, runtime.QueryObjects, runtime.QueryObjectsParams{PrototypeObjectID: proto.Result.ObjectID})
		if err != nil {
			return fmt.Errorf("RFB objects: %w", err)
		}
		if objs.Objects == nil || objs.Objects.ObjectID == "" {
			return errors.New("RFB objects: not an array")
		}
		res, err := cdp.Call(ctx, tgt, runtime.CallFunctionOn, runtime.CallFunctionOnParams{
			ObjectID: objs.Objects.ObjectID,
			FunctionDeclaration: `function() {
				if (this.length !== 1) throw new Error(this.length + ' RFB objects, want 1');
				this[0].clipboardPasteFrom(` + string(lit) + `);
			}`,
		})
		return jsError(res.ExceptionDetails, err)
	}))
}

// jsError returns the error of a DevTools call that failed with err or
// whose JavaScript threw the exception of exc.
func jsError(exc *runtime.ExceptionDetails, err error) error {
	switch {
	case err != nil:
		return err
	case exc != nil:
		text := exc.Text
		if exc.Exception != nil {
			text += " " + exc.Exception.Description
		}
		return errors.New(text)
	}
	return nil
}
