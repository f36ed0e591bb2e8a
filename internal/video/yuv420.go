package video

import (
	"encoding/binary"
	"image"
)

// yuv420Size returns the bytes of one frame of size in planar YUV 4:2:0
// (ffmpeg's yuv420p): a luma byte per pixel and a byte of each chroma
// plane per 2×2 block. Both sides are even (Args checks it).
func yuv420Size(size image.Point) int {
	return size.X*size.Y + 2*(size.X/2)*(size.Y/2)
}

// toYUV420 converts img, whose sides are even, into dst, yuv420Size
// bytes: its Y, U and V planes one after the other, with the BT.601
// limited-range matrix that ffmpeg assumes for untagged yuv420p and that
// its own RGB conversion uses, chroma as the mean of each 2×2 block.
// Alpha is ignored. Converting here rather than in ffmpeg (swscale) takes
// a third of ffmpeg's CPU time off the video and sends 2.7 times fewer
// bytes down the pipe.
func toYUV420(dst []byte, img *image.RGBA) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	cw := w / 2
	yp := dst[:w*h]
	up := dst[w*h : w*h+cw*(h/2)]
	vp := dst[w*h+cw*(h/2) : w*h+2*cw*(h/2)]
	// Screens are mostly runs of one colour: a 2×2 block equal to the one
	// before it reuses its values.
	var lastA, lastB uint64 = 1, 1 // no block of a frame: alpha bytes differ
	var ya, yb, yc, yd, uu, vv byte
	for y := 0; y+1 < h; y += 2 {
		r0 := img.Pix[y*img.Stride:][:4*w]
		r1 := img.Pix[(y+1)*img.Stride:][:4*w]
		y0 := yp[y*w:][:w]
		y1 := yp[(y+1)*w:][:w]
		u := up[(y/2)*cw:][:cw]
		v := vp[(y/2)*cw:][:cw]
		for i := range u {
			a := binary.LittleEndian.Uint64(r0[8*i:])
			b := binary.LittleEndian.Uint64(r1[8*i:])
			if a != lastA || b != lastB {
				lastA, lastB = a, b
				ra, ga, ba := int32(a&0xff), int32(a>>8&0xff), int32(a>>16&0xff)
				rb, gb, bb := int32(a>>32&0xff), int32(a>>40&0xff), int32(a>>48&0xff)
				rc, gc, bc := int32(b&0xff), int32(b>>8&0xff), int32(b>>16&0xff)
				rd, gd, bd := int32(b>>32&0xff), int32(b>>40&0xff), int32(b>>48&0xff)
				ya = byte((66*ra+129*ga+25*ba+128)>>8 + 16)
				yb = byte((66*rb+129*gb+25*bb+128)>>8 + 16)
				yc = byte((66*rc+129*gc+25*bc+128)>>8 + 16)
				yd = byte((66*rd+129*gd+25*bd+128)>>8 + 16)
				r, g, bl := ra+rb+rc+rd, ga+gb+gc+gd, ba+bb+bc+bd
				uu = byte((-38*r-74*g+112*bl+512)>>10 + 128)
				vv = byte((112*r-94*g-18*bl+512)>>10 + 128)
			}
			y0[2*i], y0[2*i+1] = ya, yb
			y1[2*i], y1[2*i+1] = yc, yd
			u[i], v[i] = uu, vv
		}
	}
}
